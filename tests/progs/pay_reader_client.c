/*
 * pay_reader_client: one read through a card reader's Unix socket, for the
 * shell tests (tests/cli/test_pay_sims.sh).
 *
 *   pay_reader_client SOCKET PAYMENT_ID AMOUNT_MINOR [TIMEOUT_MS]
 *
 * Sends a pay_read_req (currency EUR, timeout 5000 ms unless given) and
 * prints the reply line as received on stdout. The line must decode with
 * pay_read_reply_decode and name the same payment id.
 * Exit: 0 a reply (card or error), 3 the reader closed the connection
 * without answering, 1 anything else (with a message on stderr).
 */
#include "pay/pay.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#define CLIENT_SLACK_MS 5000

static int die(const char *what, const char *why)
{
    fprintf(stderr, "pay_reader_client: %s: %s\n", what, why);
    return 1;
}

int main(int argc, char **argv)
{
    if (argc != 4 && argc != 5) {
        fprintf(stderr, "usage: pay_reader_client SOCKET PAYMENT_ID AMOUNT_MINOR [TIMEOUT_MS]\n");
        return 2;
    }
    pay_read_req q;
    memset(&q, 0, sizeof q);
    snprintf(q.payment_id, sizeof q.payment_id, "%s", argv[2]);
    q.amount_minor = strtoll(argv[3], NULL, 10);
    snprintf(q.currency, sizeof q.currency, "EUR");
    q.timeout_ms = argc == 5 ? strtoll(argv[4], NULL, 10) : 5000;
    kbuf line;
    kbuf_init(&line);
    kassa_err err;
    if (pay_read_req_encode(&q, &line, &err) != KASSA_OK)
        return die("request", err.msg);

    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    if (strlen(argv[1]) >= sizeof sa.sun_path)
        return die(argv[1], "socket path too long");
    memcpy(sa.sun_path, argv[1], strlen(argv[1]) + 1);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return die("socket", strerror(errno));
    /* The reader answers within timeout_ms; a little more for slack. */
    int64_t wait_ms = q.timeout_ms + CLIENT_SLACK_MS;
    struct timeval tv = {(time_t)(wait_ms / 1000), (suseconds_t)(wait_ms % 1000) * 1000};
    if (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv) != 0)
        return die("setsockopt", strerror(errno));
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0)
        return die(argv[1], strerror(errno));
    if (send(fd, line.data, line.len, MSG_NOSIGNAL) != (ssize_t)line.len)
        return die("send", strerror(errno));
    kbuf_free(&line);

    char buf[PAY_LINE_MAX_BYTES + 1];
    size_t n = 0;
    for (;;) {
        if (n == PAY_LINE_MAX_BYTES)
            return die("reply", "longer than PAY_LINE_MAX_BYTES");
        ssize_t r = recv(fd, buf + n, PAY_LINE_MAX_BYTES - n, 0);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return die("recv", strerror(errno));
        if (r == 0) {
            if (n == 0) {
                fprintf(stderr, "pay_reader_client: the reader closed without answering\n");
                return 3;
            }
            return die("reply", "connection closed in the middle of a line");
        }
        n += (size_t)r;
        if (memchr(buf, '\n', n))
            break;
    }
    close(fd);
    size_t len = (size_t)((char *)memchr(buf, '\n', n) - buf) + 1;
    pay_read_reply reply;
    if (pay_read_reply_decode(buf, len, &reply, &err) != KASSA_OK)
        return die("reply", err.msg);
    if (strcmp(reply.payment_id, q.payment_id) != 0)
        return die("reply", "names another payment id");
    fwrite(buf, 1, len, stdout);
    return fflush(stdout) == 0 ? 0 : 1;
}
