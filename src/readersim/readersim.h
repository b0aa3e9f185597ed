/*
 * readersim.h: kassa-reader-sim, the card reader simulator (see main.c for
 * its usage and pay.h for the protocol). One file per job: main.c (flags,
 * keys on disk, the daemon's setup and signals), server.c (the Unix
 * socket, connections and the one read in progress), card.c (reading a
 * presented card: token, brand, sealed blob), control.c (the "present"
 * control message, which only this program decodes because it carries a
 * clear card number), present.c (the `present` subcommand). The
 * allocator that clears memory before freeing it, the start and the signal
 * handling are shared with the processor simulator (pay.h, src/pay/sim.c).
 *
 * Card numbers live in rs_present.number only, and every copy is wiped
 * (sodium_memzero) as soon as it is used. Nothing here prints or logs one.
 */
#ifndef KASSA_READERSIM_H
#define KASSA_READERSIM_H

#include "base/base.h"
#include "pay/pay.h"

#include <sodium.h>
#include <stdbool.h>
#include <stdint.h>

#define RS_PROG "kassa-reader-sim"
/* Presents waiting for a read, beyond which a present is refused. */
#define RS_QUEUE_MAX 64
/* Longest "number" a present may carry: longer than any card number, so
 * a wrong one still reaches the read and is answered "unreadable". */
#define RS_NUMBER_MAX 32
/* Connections served at once; more are closed at accept. */
#define RS_CONN_MAX 64
/* A client has this long to send its request line. */
#define RS_REQUEST_TIMEOUT_MS 10000
#define RS_KEY_BYTES 32

typedef enum {
    RS_PRESENT_CARD = 1,
    RS_PRESENT_TIMEOUT,    /* the read times out after its timeout_ms */
    RS_PRESENT_DISCONNECT, /* the connection closes without an answer */
    RS_PRESENT_REMOVE,     /* the card is pulled out: "cancelled" */
} rs_present_kind;

typedef struct rs_present {
    rs_present_kind kind;
    char number[RS_NUMBER_MAX + 1]; /* card only: as presented; secret */
    char expiry[6];                 /* card only: "MM/YY" */
} rs_present;

/* Wipes p (the card number with it). */
void rs_present_wipe(rs_present *p);

/* ---- control.c ---- */

/* "MM/YY" with MM 01..12: month 1..12 and year 2000..2099. */
bool rs_parse_expiry(const char *s, int *month, int *year);
/* A card number from the command line (arg, in argv) into p->number when
 * it has 1..RS_NUMBER_MAX characters (false otherwise); arg is wiped
 * either way. */
bool rs_take_number(char *arg, rs_present *p);
/* The control message, one line with its '\n'. */
int rs_present_encode(const rs_present *p, kbuf *out, kassa_err *err);
int rs_present_decode(const char *line, size_t n, rs_present *p, kassa_err *err);
/* The "type" of a line from a client, or an error when the line is not a
 * JSON object with a short string "type". */
int rs_msg_type(const char *line, size_t n, char *type, size_t type_size, kassa_err *err);
/* {"v":1,"type":"ok"} or {"v":1,"type":"error","message":M}, one line. */
int rs_control_reply_encode(const char *error_message, kbuf *out, kassa_err *err);
/* ok: true for "ok"; false with the reader's message for "error". */
int rs_control_reply_decode(const char *line, size_t n, bool *ok, char *message,
                            size_t message_size, kassa_err *err);

/* ---- card.c ---- */

typedef struct rs_keys {
    uint8_t token_key[RS_KEY_BYTES];                 /* keyed BLAKE2b for tokens */
    uint8_t processor_pk[crypto_box_PUBLICKEYBYTES]; /* blobs are sealed to it */
} rs_keys;

/* Loads the processor's public key (hex, one line) and the token key (32
 * raw bytes, mode 0600; created with random bytes when missing). */
int rs_keys_load(rs_keys *k, const char *processor_pub_path, const char *token_key_path,
                 kassa_err *err);
/* Reads the card p for request q into r: a card, or "unreadable". */
void rs_card_read(const rs_keys *k, const rs_present *p, const pay_read_req *q, pay_read_reply *r);

/* ---- server.c ---- */

typedef struct rs_config {
    const char *socket_path;
    rs_keys keys;
    bool has_default_card;
    rs_present default_card;
    int64_t read_delay_ms;
} rs_config;

/* Serves until SIGTERM or SIGINT; returns 0, or 1 after logging why. */
int rs_serve(rs_config *cfg);

/* ---- present.c ---- */

/* The `present` subcommand: argv after "present". Exit status. */
int rs_present_main(int argc, char **argv);

#endif
