/*
 * disco: finding the other terminals of our store on the local network by
 * mDNS/DNS-SD (service type "_kassa._tcp"), with avahi-core embedded in the
 * process and driven by the process's libevent loop. No avahi-daemon, no
 * D-Bus: a terminal needs nothing else running.
 *
 * What it does
 * - Publishes one service, named "kassa-STORE-NODE" (sanitised to a DNS
 *   label, see below), with TXT store=, node= and proto=, pointing at our own
 *   host name "kassa-STORE-NODE.local" and its A record(s).
 * - Browses "_kassa._tcp", resolves each instance and reports every one
 *   whose TXT store equals ours and whose node differs from ours through
 *   disco_found_fn: node id, numeric IPv4 address, peer-link port. A peer is
 *   reported again when its address or port changes; identical repeats are
 *   not reported.
 *
 * Why it is shaped this way
 * - Discovery only finds addresses. Anyone on the LAN can publish a TXT
 *   record claiming to be node T of store S, so a reported peer is only a
 *   candidate address: the peer link still checks its certificate (chain to
 *   the company CA, CRL, store and node from the SAN) and the store roster
 *   before a single operation is exchanged. That is why the callback carries
 *   nothing but node, address and port, and why TXT values are treated as
 *   hostile input (validated, bad ones ignored with a debug log).
 * - mDNS is not used to detect a dead peer: a killed process sends no
 *   goodbye and its records linger in caches for minutes. The peer link's
 *   heartbeats decide liveness. Hence there is no "lost" callback.
 * - Each process publishes its own host name and its own A record with
 *   AVAHI_PUBLISH_NO_REVERSE, and the responder's automatic address, HINFO
 *   and workstation records are off: two avahi responders in one network
 *   namespace (two terminals on one machine, or the tests) would otherwise
 *   both claim the reverse-lookup PTR record of the shared address and keep
 *   renaming each other. Names (host and service) are unique per store and
 *   node; when one collides anyway (a duplicated node id, a stale record), an
 *   alternative name is picked and logged. Peers are identified by the TXT
 *   node id, never by the service name.
 * - IPv4 only (AVAHI_PROTO_INET): the peer links listen on IPv4 and store
 *   networks are IPv4; it halves the traffic and the cases to test.
 * - Interfaces: avahi silently ignores a non-loopback interface without
 *   the MULTICAST flag. avahi 0.8 as in Debian 12 does use lo (with or
 *   without MULTICAST; older avahi skipped loopback), so processes on one
 *   loopback-only host find each other when they publish 127.0.0.1
 *   (publish_addr). With publish_addr NULL only LAN addresses are
 *   published, each with the service on its own interface (a peer never
 *   sees an instance it cannot resolve), and a host without one is refused
 *   at start.
 *
 * Threading and lifetime: everything runs on the event_base given to
 * disco_start, in its thread. found is called from that loop and must not
 * call disco_free. Errors after disco_start (avahi failures, collisions
 * beyond DISCO_RENAMES_MAX) are logged through jlog (component "disco";
 * avahi's own messages as component "avahi"); library code never exits.
 */
#ifndef KASSA_DISCO_H
#define KASSA_DISCO_H

#include "base/base.h"

#include <stdint.h>

struct event_base;

/* The DNS-SD service type all terminals publish and browse. */
#define DISCO_SERVICE_TYPE "_kassa._tcp"

/* Service instances followed at once (every _kassa._tcp instance seen, our
 * store's or not, per interface). A LAN with more is refused instance by
 * instance with a warning, so a flood of fake services cannot make the
 * module grow without bound. */
#define DISCO_PEERS_MAX 64

/* Collisions on our own names resolved by renaming before giving up on
 * publishing (browsing goes on). */
#define DISCO_RENAMES_MAX 32

typedef struct disco_config {
    const char *store;        /* our store id: published, and the filter on what we find */
    const char *node;         /* our node id */
    uint16_t port;            /* our peer-link TCP port (not 0) */
    uint32_t proto;           /* peer protocol version, TXT proto= */
    const char *publish_addr; /* IPv4 address to publish as our A record; NULL: every
                                 non-loopback IPv4 address of multicast-capable interfaces,
                                 each on its own interface, re-read every few seconds and
                                 republished when they change */
} disco_config;

/* A peer of our store was resolved (or its address/port changed). node is a
 * valid kassa id, addr a numeric IPv4 address; both are only valid during
 * the call. */
typedef void (*disco_found_fn)(void *ctx, const char *node, const char *addr, uint16_t port);

typedef struct disco disco;

/* Starts the embedded responder on base: publishing begins once avahi's
 * server is running (a second or so of probing), browsing at once. cfg's
 * strings are copied. Fails with KASSA_EINVAL (bad config), KASSA_ENOTFOUND
 * (publish_addr NULL and no usable IPv4 address), KASSA_ENOMEM, or KASSA_EIO
 * (avahi could not start, e.g. no mDNS socket). */
int disco_start(struct event_base *base, const disco_config *cfg, disco_found_fn found, void *ctx,
                disco **out, kassa_err *err);

/* Withdraws our records (avahi sends goodbye packets) and frees everything.
 * NULL is a no-op. Not from inside found. */
void disco_free(disco *d);

#endif
