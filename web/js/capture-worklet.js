// Audio worklet for voice ordering (js/voice.js): runs on the audio thread
// and hands each block of microphone input, mixed to mono, to the page.

class CaptureProcessor extends AudioWorkletProcessor {
  process(inputs) {
    const channels = inputs[0];
    if (channels && channels.length > 0) {
      const n = channels[0].length;
      const mono = new Float32Array(n);
      for (const ch of channels) {
        for (let i = 0; i < n; i++) mono[i] += ch[i] / channels.length;
      }
      this.port.postMessage(mono, [mono.buffer]);
    }
    return true; // keep running until the page disconnects the node
  }
}

registerProcessor('kassa-capture', CaptureProcessor);
