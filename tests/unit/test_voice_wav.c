/*
 * Unit tests for voice/wav.c: every accepted encoding (PCM 8/16/24/32-bit,
 * float, extensible, mono and stereo), resampling to 16 kHz (length, a
 * tone kept, a tone above the new Nyquist frequency removed), and the bad
 * inputs: not a WAV, truncated chunks, unsupported formats, rates and
 * channel counts, empty and over-long audio.
 *
 * With VOICE_WAV_SEED_DIR set it also writes the seeds of the fuzz corpus:
 *   VOICE_WAV_SEED_DIR=tests/fuzz/corpus/fuzz_wav build/bin/test_voice_wav
 */
#include "testutil.h"
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "voice/voice.h"

/* ---- building WAV files ---- */

typedef struct wav_spec {
    uint16_t tag; /* 1 PCM, 3 float, 0xFFFE extensible */
    uint16_t channels;
    uint32_t rate;
    uint16_t bits;
    uint16_t sub_tag;      /* extensible: the subtype's tag */
    int block_align_delta; /* a wrong block align */
} wav_spec;

static void put_u16(kbuf *b, uint16_t v)
{
    uint8_t x[2] = {(uint8_t)v, (uint8_t)(v >> 8)};
    kbuf_put(b, x, 2);
}

static void put_fmt(kbuf *b, const wav_spec *s)
{
    bool ext = s->tag == 0xFFFE;
    kbuf_put(b, "fmt ", 4);
    kbuf_put_u32le(b, ext ? 40 : 16);
    put_u16(b, s->tag);
    put_u16(b, s->channels);
    kbuf_put_u32le(b, s->rate);
    uint16_t align = (uint16_t)(s->channels * s->bits / 8 + s->block_align_delta);
    kbuf_put_u32le(b, s->rate * align);
    put_u16(b, align);
    put_u16(b, s->bits);
    if (ext) {
        static const uint8_t tail[14] = {0x00, 0x00, 0x00, 0x00, 0x10, 0x00, 0x80,
                                         0x00, 0x00, 0xAA, 0x00, 0x38, 0x9B, 0x71};
        put_u16(b, 22);
        put_u16(b, s->bits);
        kbuf_put_u32le(b, 0);
        put_u16(b, s->sub_tag);
        kbuf_put(b, tail, sizeof tail);
    }
}

/* RIFF header (size patched by finish), fmt, data of `data_len` bytes. */
static void build(kbuf *b, const wav_spec *s, const void *data, size_t data_len)
{
    kbuf_init(b);
    kbuf_put(b, "RIFF", 4);
    kbuf_put_u32le(b, 0);
    kbuf_put(b, "WAVE", 4);
    put_fmt(b, s);
    kbuf_put(b, "data", 4);
    kbuf_put_u32le(b, (uint32_t)data_len);
    kbuf_put(b, data, data_len);
    uint32_t riff = (uint32_t)(b->len - 8);
    memcpy(b->data + 4, &riff, 4); /* little-endian host */
    assert_false(b->oom);
}

/* Decodes from an exact-size copy, so ASan sees any read past the end. */
static int decode(const uint8_t *p, size_t n, voice_audio *a, kassa_err *err)
{
    uint8_t *copy = malloc(n ? n : 1);
    assert_non_null(copy);
    memcpy(copy, p, n);
    int rc = voice_wav_decode(copy, n, a, err);
    free(copy);
    return rc;
}

static void expect_error(const uint8_t *p, size_t n, const char *needle)
{
    voice_audio a;
    kassa_err err;
    memset(&a, 0x5a, sizeof a);
    int rc = decode(p, n, &a, &err);
    if (rc != KASSA_EINVAL || !strstr(err.msg, needle))
        print_error("want \"%s\", got rc %d \"%s\"\n", needle, rc, err.msg);
    assert_int_equal(rc, KASSA_EINVAL);
    assert_non_null(strstr(err.msg, needle));
    assert_null(a.samples);
    assert_int_equal(a.n_samples, 0);
    for (const char *c = err.msg; *c; c++)
        assert_true(*c >= 0x20 && *c < 0x7f);
}

static void write_seed(const char *name, const kbuf *b)
{
    assert_int_equal(tu_seed_write(getenv("VOICE_WAV_SEED_DIR"), name, b->data, b->len), 0);
}

static const wav_spec PCM16_16K = {1, 1, 16000, 16, 0, 0};

/* ---- accepted encodings ---- */

static void test_pcm16_mono_round_trip(void **state)
{
    (void)state;
    int16_t s[200];
    for (int i = 0; i < 200; i++)
        s[i] = (int16_t)((i * 331) % 65536 - 32768);
    kbuf b;
    kbuf_init(&b);
    kassa_err err;
    assert_int_equal(voice_wav_encode(s, 200, 16000, 1, &b, &err), KASSA_OK);
    assert_int_equal(b.len, 44 + 400);
    write_seed("pcm16_mono_16k.wav", &b);
    voice_audio a;
    assert_int_equal(decode(b.data, b.len, &a, &err), KASSA_OK);
    assert_int_equal(a.n_samples, 200);
    assert_memory_equal(a.samples, s, sizeof s);
    assert_int_equal(a.source_rate_hz, 16000);
    assert_int_equal(a.source_channels, 1);
    assert_int_equal(a.source_bits, 16);
    assert_false(a.source_float);
    voice_audio_free(&a);
    assert_null(a.samples);
    kbuf_free(&b);
}

static void test_stereo_mixed_to_mono(void **state)
{
    (void)state;
    int16_t s[100 * 2];
    for (int i = 0; i < 100; i++) {
        s[2 * i] = 1000;
        s[2 * i + 1] = 3000;
    }
    kbuf b;
    kbuf_init(&b);
    kassa_err err;
    assert_int_equal(voice_wav_encode(s, 200, 16000, 2, &b, &err), KASSA_OK);
    write_seed("pcm16_stereo_16k.wav", &b);
    voice_audio a;
    assert_int_equal(decode(b.data, b.len, &a, &err), KASSA_OK);
    assert_int_equal(a.n_samples, 100);
    assert_int_equal(a.source_channels, 2);
    for (size_t i = 0; i < a.n_samples; i++)
        assert_int_equal(a.samples[i], 2000);
    voice_audio_free(&a);
    kbuf_free(&b);
}

static void test_other_sample_formats(void **state)
{
    (void)state;
    kbuf b;
    voice_audio a;
    kassa_err err;
    /* 8-bit unsigned: 128 is silence, 255 the top. */
    uint8_t u8[4] = {128, 255, 0, 192};
    build(&b, &(wav_spec){1, 1, 16000, 8, 0, 0}, u8, sizeof u8);
    write_seed("pcm8_mono_16k.wav", &b);
    assert_int_equal(decode(b.data, b.len, &a, &err), KASSA_OK);
    assert_int_equal(a.n_samples, 4);
    assert_int_equal(a.samples[0], 0);
    assert_int_equal(a.samples[1], 32512);
    assert_int_equal(a.samples[2], -32768);
    assert_int_equal(a.samples[3], 16384);
    voice_audio_free(&a);
    kbuf_free(&b);
    /* 24-bit: -2^23 and 2^22, little-endian. */
    uint8_t s24[6] = {0x00, 0x00, 0x80, 0x00, 0x00, 0x40};
    build(&b, &(wav_spec){1, 1, 16000, 24, 0, 0}, s24, sizeof s24);
    write_seed("pcm24_mono_16k.wav", &b);
    assert_int_equal(decode(b.data, b.len, &a, &err), KASSA_OK);
    assert_int_equal(a.n_samples, 2);
    assert_int_equal(a.samples[0], -32768);
    assert_int_equal(a.samples[1], 16384);
    voice_audio_free(&a);
    kbuf_free(&b);
    /* 32-bit integers. */
    int32_t s32[2] = {INT32_MIN, 1 << 29};
    build(&b, &(wav_spec){1, 1, 16000, 32, 0, 0}, s32, sizeof s32);
    assert_int_equal(decode(b.data, b.len, &a, &err), KASSA_OK);
    assert_int_equal(a.samples[0], -32768);
    assert_int_equal(a.samples[1], 8192);
    voice_audio_free(&a);
    kbuf_free(&b);
    /* Floats: clipped to [-1, 1], NaN is silence. */
    float f[5] = {0.5f, -0.25f, 2.0f, -7.0f, NAN};
    build(&b, &(wav_spec){3, 1, 16000, 32, 0, 0}, f, sizeof f);
    write_seed("float32_mono_16k.wav", &b);
    assert_int_equal(decode(b.data, b.len, &a, &err), KASSA_OK);
    assert_true(a.source_float);
    assert_int_equal(a.samples[0], 16384);
    assert_int_equal(a.samples[1], -8192);
    assert_int_equal(a.samples[2], 32767);
    assert_int_equal(a.samples[3], -32768);
    assert_int_equal(a.samples[4], 0);
    voice_audio_free(&a);
    kbuf_free(&b);
    /* WAVE_FORMAT_EXTENSIBLE with a PCM subtype, stereo. */
    int16_t st[4] = {100, 300, -100, -300};
    build(&b, &(wav_spec){0xFFFE, 2, 16000, 16, 1, 0}, st, sizeof st);
    write_seed("extensible_stereo_16k.wav", &b);
    assert_int_equal(decode(b.data, b.len, &a, &err), KASSA_OK);
    assert_int_equal(a.n_samples, 2);
    assert_int_equal(a.samples[0], 200);
    assert_int_equal(a.samples[1], -200);
    voice_audio_free(&a);
    kbuf_free(&b);
}

/* Chunks before and between fmt and data are skipped (with their pad
 * byte); a data size of 0xFFFFFFFF runs to the end; a trailing partial
 * frame is dropped; bytes past the RIFF size are not ours. */
static void test_chunk_walk(void **state)
{
    (void)state;
    kbuf b;
    kbuf_init(&b);
    kbuf_put(&b, "RIFF", 4);
    kbuf_put_u32le(&b, 0);
    kbuf_put(&b, "WAVE", 4);
    kbuf_put(&b, "LIST", 4);
    kbuf_put_u32le(&b, 3);
    kbuf_put(&b, "abc\0", 4); /* odd size: one pad byte */
    put_fmt(&b, &PCM16_16K);
    kbuf_put(&b, "fact", 4);
    kbuf_put_u32le(&b, 4);
    kbuf_put_u32le(&b, 3);
    kbuf_put(&b, "data", 4);
    kbuf_put_u32le(&b, 0xFFFFFFFFu);
    int16_t s[3] = {1, 2, 3};
    kbuf_put(&b, s, sizeof s);
    kbuf_put_u8(&b, 0x77); /* half a frame */
    uint32_t riff = 0xFFFFFFFFu;
    memcpy(b.data + 4, &riff, 4);
    write_seed("chunks_streaming.wav", &b);
    voice_audio a;
    kassa_err err;
    assert_int_equal(decode(b.data, b.len, &a, &err), KASSA_OK);
    assert_int_equal(a.n_samples, 3);
    assert_int_equal(a.samples[2], 3);
    voice_audio_free(&a);
    kbuf_free(&b);

    /* data before fmt is found all the same; trailing junk past RIFF. */
    kbuf_init(&b);
    kbuf_put(&b, "RIFF", 4);
    kbuf_put_u32le(&b, 4 + 8 + 4 + 24);
    kbuf_put(&b, "WAVE", 4);
    kbuf_put(&b, "data", 4);
    kbuf_put_u32le(&b, 4);
    kbuf_put(&b, s, 4);
    put_fmt(&b, &PCM16_16K);
    kbuf_put(&b, "junkjunkjunk", 12);
    assert_int_equal(decode(b.data, b.len, &a, &err), KASSA_OK);
    assert_int_equal(a.n_samples, 2);
    voice_audio_free(&a);
    kbuf_free(&b);
}

/* ---- resampling ---- */

static double tone_rms(const voice_audio *a, size_t skip)
{
    double sum = 0;
    size_t n = 0;
    for (size_t i = skip; i + skip < a->n_samples; i++, n++)
        sum += (double)a->samples[i] * a->samples[i];
    return n ? sqrt(sum / (double)n) : 0.0;
}

static void tone_wav(kbuf *b, uint32_t rate, double freq, double seconds, double amp)
{
    size_t n = (size_t)(rate * seconds);
    int16_t *s = malloc(n * sizeof *s);
    assert_non_null(s);
    for (size_t i = 0; i < n; i++)
        s[i] = (int16_t)lrint(amp * sin(2 * M_PI * freq * (double)i / rate));
    kbuf_init(b);
    kassa_err err;
    assert_int_equal(voice_wav_encode(s, n, rate, 1, b, &err), KASSA_OK);
    free(s);
}

/* Zero crossings per second of the decoded signal, halved: its frequency. */
static double tone_freq(const voice_audio *a)
{
    size_t crossings = 0;
    for (size_t i = 1; i < a->n_samples; i++)
        crossings += (a->samples[i - 1] < 0) != (a->samples[i] < 0);
    return crossings / 2.0 / ((double)a->n_samples / VOICE_SAMPLE_RATE_HZ);
}

static void test_resampling(void **state)
{
    (void)state;
    static const uint32_t rates[] = {8000, 11025, 22050, 44100, 48000, 96000};
    for (size_t r = 0; r < KASSA_ARRAY_LEN(rates); r++) {
        kbuf b;
        /* A 10 ms seed of each rate for the fuzz corpus. */
        tone_wav(&b, rates[r], 440.0, 0.01, 10000.0);
        char name[32];
        snprintf(name, sizeof name, "tone_%u.wav", (unsigned)rates[r]);
        write_seed(name, &b);
        kbuf_free(&b);
        tone_wav(&b, rates[r], 440.0, 0.5, 10000.0);
        voice_audio a;
        kassa_err err;
        assert_int_equal(decode(b.data, b.len, &a, &err), KASSA_OK);
        size_t want = (size_t)ceil(0.5 * rates[r] * VOICE_SAMPLE_RATE_HZ / rates[r]);
        assert_true(a.n_samples >= want - 1 && a.n_samples <= want + 1);
        assert_int_equal(a.source_rate_hz, rates[r]);
        /* A 440 Hz tone keeps its pitch and loudness (RMS 10000/sqrt 2). */
        double rms = tone_rms(&a, 400);
        assert_true(fabs(rms - 7071.0) < 150.0);
        assert_true(fabs(tone_freq(&a) - 440.0) < 6.0);
        voice_audio_free(&a);
        kbuf_free(&b);
    }
    /* 12 kHz at 48 kHz is above 16 kHz's Nyquist frequency: the low-pass
     * must remove it, not fold it down to 4 kHz. */
    kbuf b;
    tone_wav(&b, 48000, 12000.0, 0.5, 10000.0);
    voice_audio a;
    kassa_err err;
    assert_int_equal(decode(b.data, b.len, &a, &err), KASSA_OK);
    assert_true(tone_rms(&a, 400) < 10000.0 * 0.01);
    voice_audio_free(&a);
    kbuf_free(&b);
}

/* ---- bad inputs ---- */

static void test_not_wav(void **state)
{
    (void)state;
    expect_error((const uint8_t *)"", 0, "not a WAV file");
    expect_error((const uint8_t *)"hello, world: not audio", 23, "not a WAV file");
    expect_error((const uint8_t *)"RIFF\x04\0\0\0AVI LIST", 16, "not a WAV file");
    expect_error((const uint8_t *)"RIFF\x04\0\0\0WAV", 11, "not a WAV file");
    expect_error((const uint8_t *)"RIFF\x02\0\0\0WAVE", 12, "RIFF size 2");
    expect_error((const uint8_t *)"RIFF\x04\0\0\0WAVE", 12, "no 'fmt ' chunk");
    /* PNG, MP3 bytes */
    expect_error((const uint8_t *)"\x89PNG\r\n\x1a\n\0\0\0\rIHDR", 16, "not a WAV file");
    expect_error((const uint8_t *)"ID3\x03\0\0\0\0\0\0\xff\xfb", 12, "not a WAV file");
}

static void test_truncated_chunks(void **state)
{
    (void)state;
    int16_t s[50] = {0};
    kbuf b;
    build(&b, &PCM16_16K, s, sizeof s);
    /* Cut inside the data chunk: it declares more than is left. */
    write_seed("truncated_data.wav", &(kbuf){.data = b.data, .len = b.len - 10});
    expect_error(b.data, b.len - 10, "chunk 'data' declares 100 bytes but only 90 remain");
    /* Cut inside the fmt chunk. */
    expect_error(b.data, 12 + 8 + 10, "chunk 'fmt ' declares 16 bytes but only 10 remain");
    /* Cut inside a chunk header, after fmt. */
    expect_error(b.data, 12 + 24 + 5, "no 'data' chunk");
    kbuf_free(&b);
    /* A chunk with a huge size. */
    kbuf_init(&b);
    kbuf_put(&b, "RIFF\xff\xff\xff\x7fWAVEjunk\xf0\xff\xff\xff", 20);
    write_seed("huge_chunk.wav", &b);
    expect_error(b.data, b.len, "chunk 'junk' declares 4294967280 bytes but only 0 remain");
    kbuf_free(&b);
    /* Too many chunks before the audio. */
    kbuf_init(&b);
    kbuf_put(&b, "RIFF\0\0\0\0WAVE", 12);
    for (int i = 0; i < VOICE_WAV_CHUNKS_MAX + 1; i++)
        kbuf_put(&b, "pad \0\0\0\0", 8);
    put_fmt(&b, &PCM16_16K);
    expect_error(b.data, b.len, "more than 64 chunks");
    kbuf_free(&b);
    /* Non-printable chunk ids are not echoed. */
    kbuf_init(&b);
    kbuf_put(&b, "RIFF\0\0\0\0WAVE\x01\xfe\n\x7f\x09\0\0\0", 20);
    expect_error(b.data, b.len,
                 "chunk '?"
                 "?"
                 "?"
                 "?' declares 9 bytes");
    kbuf_free(&b);
}

static void test_unsupported_formats(void **state)
{
    (void)state;
    uint8_t data[64] = {0};
    struct {
        wav_spec spec;
        const char *msg;
    } cases[] = {
        {{2, 1, 16000, 4, 0, 0}, "encoding 2 is not supported"},      /* ADPCM */
        {{0x55, 1, 16000, 16, 0, 0}, "encoding 85 is not supported"}, /* MP3 */
        {{1, 1, 16000, 12, 0, 0}, "12-bit PCM is not supported"},
        {{3, 1, 16000, 64, 0, 0}, "64-bit float is not supported"},
        {{0xFFFE, 1, 16000, 16, 2, 0}, "encoding 2 is not supported"},
        {{1, 3, 16000, 16, 0, 0}, "3 channels; only mono or stereo"},
        {{1, 0, 16000, 16, 0, 0}, "0 channels"},
        {{1, 1, 4000, 16, 0, 0}, "sample rate 4000 Hz is not supported (8000 to 96000 Hz)"},
        {{1, 1, 192000, 16, 0, 0}, "sample rate 192000 Hz is not supported"},
        {{1, 1, 0, 16, 0, 0}, "sample rate 0 Hz"},
        {{1, 2, 16000, 16, 0, 2}, "block align 6, expected 4"},
    };
    for (size_t i = 0; i < KASSA_ARRAY_LEN(cases); i++) {
        kbuf b;
        build(&b, &cases[i].spec, data, sizeof data);
        if (i == 5)
            write_seed("three_channels.wav", &b);
        expect_error(b.data, b.len, cases[i].msg);
        kbuf_free(&b);
    }
    /* A fmt chunk too short for its kind. */
    kbuf b;
    kbuf_init(&b);
    kbuf_put(&b, "RIFF\0\0\0\0WAVEfmt \x0e\0\0\0", 20);
    kbuf_put(&b, "\x01\0\x01\0\x80\x3e\0\0\0\x7d\0\0\x02\0", 14);
    expect_error(b.data, b.len, "'fmt ' chunk of 14 bytes, need 16");
    kbuf_free(&b);
    kbuf_init(&b);
    kbuf_put(&b, "RIFF\0\0\0\0WAVEfmt \x12\0\0\0", 20);
    kbuf_put(&b, "\xfe\xff\x01\0\x80\x3e\0\0\0\x7d\0\0\x02\0\x10\0\0\0", 18);
    expect_error(b.data, b.len, "extensible 'fmt ' chunk of 18 bytes, need 40");
    kbuf_free(&b);
}

static void test_empty_and_too_long(void **state)
{
    (void)state;
    kbuf b;
    build(&b, &PCM16_16K, NULL, 0);
    write_seed("empty.wav", &b);
    expect_error(b.data, b.len, "empty audio");
    kbuf_free(&b);
    /* One byte of a two-byte frame is no frame either. */
    build(&b, &PCM16_16K, "\x01", 1);
    expect_error(b.data, b.len, "empty audio");
    kbuf_free(&b);
    /* 16 s at 8 kHz; exactly 15 s passes. */
    size_t n = 8000 * 16;
    uint8_t *zeros = calloc(n, 1);
    assert_non_null(zeros);
    build(&b, &(wav_spec){1, 1, 8000, 8, 0, 0}, zeros, n);
    expect_error(b.data, b.len, "audio is 16.0 s long; at most 15 s are accepted");
    kbuf_free(&b);
    build(&b, &(wav_spec){1, 1, 8000, 8, 0, 0}, zeros, 8000 * 15);
    voice_audio a;
    kassa_err err;
    assert_int_equal(decode(b.data, b.len, &a, &err), KASSA_OK);
    assert_int_equal(a.n_samples, VOICE_AUDIO_MAX_SAMPLES);
    voice_audio_free(&a);
    kbuf_free(&b);
    free(zeros);
    /* Larger than the byte cap, whatever it holds. */
    uint8_t *big = calloc(VOICE_WAV_MAX_BYTES + 1, 1);
    assert_non_null(big);
    memcpy(big, "RIFF\0\0\0\0WAVE", 12);
    assert_int_equal(voice_wav_decode(big, VOICE_WAV_MAX_BYTES + 1, &a, &err), KASSA_EINVAL);
    assert_non_null(strstr(err.msg, "at most 16777216"));
    free(big);
}

static void test_encode_limits(void **state)
{
    (void)state;
    kbuf b;
    kbuf_init(&b);
    kassa_err err;
    int16_t s[3] = {0};
    assert_int_equal(voice_wav_encode(s, 3, 16000, 2, &b, &err), KASSA_EINVAL);
    assert_int_equal(voice_wav_encode(s, 3, 0, 1, &b, &err), KASSA_EINVAL);
    assert_int_equal(voice_wav_encode(s, 3, 16000, 3, &b, &err), KASSA_EINVAL);
    assert_int_equal(b.len, 0);
    kbuf_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pcm16_mono_round_trip),
        cmocka_unit_test(test_stereo_mixed_to_mono),
        cmocka_unit_test(test_other_sample_formats),
        cmocka_unit_test(test_chunk_walk),
        cmocka_unit_test(test_resampling),
        cmocka_unit_test(test_not_wav),
        cmocka_unit_test(test_truncated_chunks),
        cmocka_unit_test(test_unsupported_formats),
        cmocka_unit_test(test_empty_and_too_long),
        cmocka_unit_test(test_encode_limits),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
