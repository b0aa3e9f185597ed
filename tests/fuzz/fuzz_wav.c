/*
 * Fuzz target for voice/wav.c: any bytes must decode to 16 kHz mono audio
 * within the limits, or fail with one clean line, without reading past the
 * input or leaking.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"
#include "voice/voice.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    voice_audio a;
    kassa_err err;
    memset(&a, 0xa5, sizeof a); /* the decoder must not trust what was there */
    memset(&err, 0xa5, sizeof err);
    int rc = voice_wav_decode(data, size, &a, &err);
    if (rc == KASSA_OK) {
        tu_check(a.samples != NULL);
        tu_check(a.n_samples >= 1 && a.n_samples <= VOICE_AUDIO_MAX_SAMPLES);
        tu_check(a.source_rate_hz >= VOICE_WAV_RATE_MIN_HZ &&
                 a.source_rate_hz <= VOICE_WAV_RATE_MAX_HZ);
        tu_check(a.source_channels == 1 || a.source_channels == 2);
        tu_check(a.source_bits == 8 || a.source_bits == 16 || a.source_bits == 24 ||
                 a.source_bits == 32);
        tu_check(!a.source_float || a.source_bits == 32);
        /* Every sample is readable (ASan checks the allocation's size). */
        int64_t sum = 0;
        for (size_t i = 0; i < a.n_samples; i++)
            sum += a.samples[i];
        tu_check(sum >= (int64_t)INT16_MIN * (int64_t)a.n_samples);
        /* 16 kHz mono 16-bit input comes back sample for sample. */
        if (a.source_rate_hz == VOICE_SAMPLE_RATE_HZ && a.source_channels == 1 &&
            a.source_bits == 16 && !a.source_float && a.n_samples > 0) {
            kbuf b;
            kbuf_init(&b);
            tu_check(voice_wav_encode(a.samples, a.n_samples, VOICE_SAMPLE_RATE_HZ, 1, &b, &err) ==
                     KASSA_OK);
            voice_audio again;
            tu_check(voice_wav_decode(b.data, b.len, &again, &err) == KASSA_OK);
            tu_check(again.n_samples == a.n_samples);
            tu_check(memcmp(again.samples, a.samples, a.n_samples * sizeof *a.samples) == 0);
            voice_audio_free(&again);
            kbuf_free(&b);
        }
        voice_audio_free(&a);
        tu_check(a.samples == NULL && a.n_samples == 0);
    } else {
        tu_check(rc == KASSA_EINVAL || rc == KASSA_ENOMEM);
        tu_check(err.code == rc);
        tu_check_msg(err.msg, sizeof err.msg);
        tu_check(a.samples == NULL && a.n_samples == 0);
    }
    return 0;
}
