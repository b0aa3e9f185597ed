/*
 * disco: mDNS/DNS-SD discovery of our store's terminals with embedded
 * avahi-core. See disco.h for the why; evpoll.c drives avahi from libevent.
 *
 * Flow
 * - disco_start creates the AvahiServer (no automatic host records) and
 *   the _kassa._tcp browser at once.
 * - When the server reports RUNNING, we publish our entry group: our A
 *   record(s) under our own host name (NO_REVERSE) and the service with its
 *   TXT. Publishing is deferred to a libevent callback ("kick") instead of
 *   being done inside avahi's state callbacks: the first server callback
 *   arrives while avahi_server_new is still running, and renaming from
 *   inside an entry-group callback would re-enter avahi.
 * - Each browsed instance gets a slot with a service resolver that stays
 *   alive, so a changed address or port is resolved again. A resolved
 *   instance with a valid TXT of our store and another node is reported,
 *   unless the same (node, address, port) is already reported.
 */
#include "disco/disco.h"

#include "disco/evpoll.h"
#include "jlog/jlog.h"

#include <arpa/inet.h>
#include <avahi-common/alternative.h>
#include <avahi-common/domain.h>
#include <avahi-common/error.h>
#include <avahi-common/malloc.h>
#include <avahi-common/strlst.h>
#include <avahi-core/core.h>
#include <avahi-core/log.h>
#include <avahi-core/lookup.h>
#include <avahi-core/publish.h>
#include <errno.h>
#include <event2/event.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define COMPONENT "disco"

/* A DNS label (host or service name) holds at most 63 bytes. */
#define LABEL_MAX (AVAHI_LABEL_MAX - 1)

/* Longest decimal uint32. */
#define PROTO_DIGITS_MAX 10

/* Interfaces we publish on when publish_addr is NULL. */
#define DISCO_IFACES_MAX 32

/* How often our own addresses are re-read when publish_addr is NULL. The
 * responder's automatic address records are off (see disco.h), so avahi no
 * longer follows a renumbered interface for us: without this, a DHCP change
 * would leave peers with a stale A record, and a link that was down at
 * start would never be published. One getifaddrs per period. */
#define DISCO_ADDR_RECHECK_MS 3000

/* One browsed service instance (per interface and protocol, as avahi
 * reports them). */
typedef struct disco_slot {
    struct disco *d;
    bool used;
    AvahiIfIndex iface;
    AvahiProtocol proto;
    char name[AVAHI_LABEL_MAX];
    AvahiSServiceResolver *resolver;
    /* What was last reported for this instance (reported == false: nothing,
     * or it was of another store, ourselves or invalid). */
    bool reported;
    char node[KASSA_ID_MAX + 1];
    char addr[INET_ADDRSTRLEN];
    uint16_t port;
} disco_slot;

struct disco {
    struct event_base *base;
    disco_evpoll poll;
    AvahiServer *server;
    AvahiSEntryGroup *group;
    AvahiSServiceBrowser *browser;
    AvahiStringList *txt;

    struct event *kick;    /* deferred work, run from the loop, outside avahi */
    struct event *recheck; /* periodic look at our addresses (publish_addr NULL) */
    uint64_t pub_sig;      /* signature of the address set last published */
    bool want_publish;
    bool want_server_rename;
    unsigned renames;
    bool gave_up; /* DISCO_RENAMES_MAX reached: no more publishing */
    bool full_warned;

    disco_found_fn found;
    void *ctx;
    char store[KASSA_ID_MAX + 1];
    char node[KASSA_ID_MAX + 1];
    uint16_t port;
    bool have_addr; /* publish_addr given */
    struct in_addr addr;

    char host[AVAHI_LABEL_MAX];    /* our host label (without .local) */
    char service[AVAHI_LABEL_MAX]; /* our service instance name */

    disco_slot slots[DISCO_PEERS_MAX];
};

/* ---- avahi's log into jlog ---- */

static void avahi_to_jlog(AvahiLogLevel level, const char *txt)
{
    /* avahi narrates every interface it joins at info level; that is debug
     * detail for kassa. */
    jlog_level l = level == AVAHI_LOG_ERROR  ? JLOG_ERROR
                   : level == AVAHI_LOG_WARN ? JLOG_WARN
                                             : JLOG_DEBUG;
    jlog(l, "avahi", "log", "{s:s}", "message", txt);
}

/* ---- names ---- */

/* 64-bit FNV-1a: only to keep over-long names distinct, not for security. */
static uint64_t fnv1a(uint64_t h, const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        h ^= (unsigned char)s[i];
        h *= 0x100000001b3u;
    }
    return h;
}

/* Our host label and service name: "kassa-STORE-NODE", with '.' and '_'
 * (valid in kassa ids, not in a host label) turned into '-'. When it would
 * exceed a DNS label, "kassa-<hash of store and node>-NODE" (node ids are at
 * most 32 bytes, so it fits and stays readable). */
static void make_label(const char *store, const char *node, char out[AVAHI_LABEL_MAX])
{
    int n = snprintf(out, AVAHI_LABEL_MAX, "kassa-%s-%s", store, node);
    if (n < 0 || n > LABEL_MAX) {
        uint64_t h = fnv1a(0xcbf29ce484222325u, store, strlen(store) + 1);
        h = fnv1a(h, node, strlen(node));
        snprintf(out, AVAHI_LABEL_MAX, "kassa-%016llx-%s", (unsigned long long)h, node);
    }
    for (char *p = out; *p; p++)
        if (*p == '.' || *p == '_')
            *p = '-';
}

/* Copies an avahi-allocated alternative name into out (bounded) and frees
 * it. false: out of memory or too long. */
static bool take_name(char *alt, char out[AVAHI_LABEL_MAX])
{
    if (!alt)
        return false;
    size_t n = strlen(alt);
    bool ok = n > 0 && n <= LABEL_MAX;
    if (ok)
        memcpy(out, alt, n + 1);
    avahi_free(alt);
    return ok;
}

/* Network-supplied names in debug logs: printable ASCII only, bounded. */
static void printable(const char *in, char out[AVAHI_LABEL_MAX])
{
    size_t i = 0;
    for (; in[i] && i < LABEL_MAX; i++)
        out[i] = (in[i] >= 0x20 && in[i] < 0x7f) ? in[i] : '?';
    out[i] = 0;
}

static int avahi_to_kassa(int avahi_error)
{
    switch (avahi_error) {
    case AVAHI_ERR_NO_MEMORY:
        return KASSA_ENOMEM;
    case AVAHI_ERR_INVALID_HOST_NAME:
    case AVAHI_ERR_INVALID_DOMAIN_NAME:
    case AVAHI_ERR_INVALID_SERVICE_NAME:
    case AVAHI_ERR_INVALID_SERVICE_TYPE:
    case AVAHI_ERR_INVALID_PORT:
    case AVAHI_ERR_INVALID_ADDRESS:
    case AVAHI_ERR_INVALID_FLAGS:
        return KASSA_EINVAL;
    default:
        return KASSA_EIO;
    }
}

static void kick(disco *d)
{
    /* event_active never fails; the callback runs on the next loop pass. */
    event_active(d->kick, 0, 0);
}

/* ---- publishing ---- */

/* Adds our A record and our service on one interface (AVAHI_IF_UNSPEC: all).
 * The service goes only where its host's address is published: elsewhere
 * (say, lo) peers would see an instance they cannot resolve. */
static int add_records(disco *d, const char *fqdn, AvahiIfIndex iface, in_addr_t addr,
                       bool with_service)
{
    AvahiAddress a = {.proto = AVAHI_PROTO_INET};
    a.data.ipv4.address = addr;
    int r = avahi_server_add_address(d->server, d->group, iface, AVAHI_PROTO_INET,
                                     AVAHI_PUBLISH_NO_REVERSE, fqdn, &a);
    if (r >= 0 && with_service)
        r = avahi_server_add_service_strlst(d->server, d->group, iface, AVAHI_PROTO_INET, 0,
                                            d->service, DISCO_SERVICE_TYPE, NULL, fqdn, d->port,
                                            d->txt);
    if (r < 0)
        jlog(JLOG_ERROR, COMPONENT, "publish_failed", "{s:s,s:i,s:s}", "record",
             with_service ? "service" : "address", "interface", (int)iface, "error",
             avahi_strerror(r));
    return r;
}

static bool usable_ifaddr(const struct ifaddrs *i)
{
    /* Up, multicast, not loopback, not point-to-point: where a LAN peer can
     * reach us. */
    unsigned f = i->ifa_flags;
    return i->ifa_addr && i->ifa_addr->sa_family == AF_INET && (f & IFF_UP) &&
           (f & IFF_MULTICAST) && !(f & IFF_LOOPBACK) && !(f & IFF_POINTOPOINT);
}

/* FNV-1a over the (interface, address) pairs we would publish, in
 * getifaddrs order: a change of address, interface or count changes it.
 * false: getifaddrs failed (logged). */
static bool addr_signature(uint64_t *sig)
{
    struct ifaddrs *ifs;
    if (getifaddrs(&ifs) != 0) {
        jlog(JLOG_ERROR, COMPONENT, "interfaces_failed", "{s:s}", "error", strerror(errno));
        return false;
    }
    uint64_t h = 0xcbf29ce484222325u;
    for (struct ifaddrs *i = ifs; i; i = i->ifa_next) {
        if (!usable_ifaddr(i))
            continue;
        unsigned idx = if_nametoindex(i->ifa_name);
        in_addr_t addr = ((const struct sockaddr_in *)(const void *)i->ifa_addr)->sin_addr.s_addr;
        h = fnv1a(h, (const char *)&idx, sizeof idx);
        h = fnv1a(h, (const char *)&addr, sizeof addr);
    }
    freeifaddrs(ifs);
    *sig = h;
    return true;
}

/* Adds our records to the group: the configured address on every interface,
 * or each usable IPv4 address on its own interface. Returns how many
 * addresses were added, -1 on an error (logged). */
static int add_all_records(disco *d, const char *fqdn)
{
    if (d->have_addr)
        return add_records(d, fqdn, AVAHI_IF_UNSPEC, d->addr.s_addr, true) < 0 ? -1 : 1;

    struct ifaddrs *ifs;
    if (getifaddrs(&ifs) != 0) {
        jlog(JLOG_ERROR, COMPONENT, "publish_failed", "{s:s,s:s}", "record", "address", "error",
             strerror(errno));
        return -1;
    }
    unsigned done[DISCO_IFACES_MAX]; /* interfaces that already carry the service */
    size_t n_done = 0;
    bool over = false;
    int n = 0;
    for (struct ifaddrs *i = ifs; i; i = i->ifa_next) {
        if (!usable_ifaddr(i))
            continue;
        unsigned idx = if_nametoindex(i->ifa_name);
        if (idx == 0)
            continue; /* vanished meanwhile */
        bool first = true;
        for (size_t k = 0; k < n_done && first; k++)
            first = done[k] != idx;
        if (first && n_done == DISCO_IFACES_MAX) {
            if (!over)
                jlog(JLOG_WARN, COMPONENT, "too_many_interfaces", "{s:i}", "max", DISCO_IFACES_MAX);
            over = true;
            continue;
        }
        in_addr_t addr = ((const struct sockaddr_in *)(const void *)i->ifa_addr)->sin_addr.s_addr;
        if (add_records(d, fqdn, (AvahiIfIndex)idx, addr, first) < 0) {
            freeifaddrs(ifs);
            return -1;
        }
        if (first)
            done[n_done++] = idx;
        n++;
    }
    freeifaddrs(ifs);
    return n;
}

static void group_cb(AvahiServer *s, AvahiSEntryGroup *g, AvahiEntryGroupState state, void *ud);

static void publish(disco *d)
{
    if (d->gave_up || !d->server || avahi_server_get_state(d->server) != AVAHI_SERVER_RUNNING)
        return;
    if (!d->group) {
        d->group = avahi_s_entry_group_new(d->server, group_cb, d);
        if (!d->group) {
            jlog(JLOG_ERROR, COMPONENT, "publish_failed", "{s:s,s:s}", "record", "group", "error",
                 avahi_strerror(avahi_server_errno(d->server)));
            return;
        }
    } else {
        /* Same group again after a collision or a server restart: avahi
         * asks not to free and recreate it (its rate limiting is per
         * group). */
        avahi_s_entry_group_reset(d->group);
    }

    /* Remembered before reading the addresses again: should they change in
     * between, the next recheck publishes once more (harmless). A failed
     * attempt is remembered too, so it is retried on the next change, not
     * logged every period. */
    if (!d->have_addr)
        (void)addr_signature(&d->pub_sig);

    char fqdn[AVAHI_DOMAIN_NAME_MAX];
    int n = snprintf(fqdn, sizeof fqdn, "%s.%s", d->host, avahi_server_get_domain_name(d->server));
    if (n < 0 || (size_t)n >= sizeof fqdn) {
        jlog(JLOG_ERROR, COMPONENT, "publish_failed", "{s:s,s:s}", "record", "address", "error",
             "host name too long");
        return;
    }
    int addrs = add_all_records(d, fqdn);
    if (addrs <= 0) {
        if (addrs == 0)
            jlog(JLOG_ERROR, COMPONENT, "publish_failed", "{s:s,s:s}", "record", "address", "error",
                 "no up, multicast, non-loopback IPv4 address to publish");
        avahi_s_entry_group_reset(d->group);
        return;
    }
    int r = avahi_s_entry_group_commit(d->group);
    if (r < 0) {
        jlog(JLOG_ERROR, COMPONENT, "publish_failed", "{s:s,s:s}", "record", "group", "error",
             avahi_strerror(r));
        avahi_s_entry_group_reset(d->group);
        return;
    }
    jlog(JLOG_DEBUG, COMPONENT, "publishing", "{s:s,s:s,s:i}", "service", d->service, "host", fqdn,
         "addresses", addrs);
}

/* Entry group collision: one of our names (which one avahi does not say) is
 * taken on the network. Both get an alternative ("kassa-S-N-2", "kassa-S-N
 * #2"), logged, and the group is published again from the loop. */
static void rename_ours(disco *d)
{
    char old_service[AVAHI_LABEL_MAX], old_host[AVAHI_LABEL_MAX];
    memcpy(old_service, d->service, sizeof old_service);
    memcpy(old_host, d->host, sizeof old_host);
    if (++d->renames > DISCO_RENAMES_MAX) {
        d->gave_up = true;
        jlog(JLOG_ERROR, COMPONENT, "publish_gave_up", "{s:s,s:i}", "service", d->service,
             "renames", DISCO_RENAMES_MAX);
        return;
    }
    if (!take_name(avahi_alternative_service_name(d->service), d->service) ||
        !take_name(avahi_alternative_host_name(d->host), d->host)) {
        memcpy(d->service, old_service, sizeof old_service);
        memcpy(d->host, old_host, sizeof old_host);
        d->gave_up = true;
        jlog(JLOG_ERROR, COMPONENT, "publish_gave_up", "{s:s,s:s}", "service", d->service, "error",
             "no alternative name");
        return;
    }
    jlog(JLOG_WARN, COMPONENT, "name_collision", "{s:s,s:s,s:s,s:s}", "old_service", old_service,
         "service", d->service, "old_host", old_host, "host", d->host);
    d->want_publish = true;
    kick(d);
}

static void group_cb(AvahiServer *s, AvahiSEntryGroup *g, AvahiEntryGroupState state, void *ud)
{
    (void)g;
    disco *d = ud;
    switch (state) {
    case AVAHI_ENTRY_GROUP_ESTABLISHED:
        jlog(JLOG_INFO, COMPONENT, "published", "{s:s,s:s,s:s,s:s,s:i}", "service", d->service,
             "host", d->host, "store", d->store, "node", d->node, "port", (int)d->port);
        break;
    case AVAHI_ENTRY_GROUP_COLLISION:
        rename_ours(d);
        break;
    case AVAHI_ENTRY_GROUP_FAILURE:
        jlog(JLOG_ERROR, COMPONENT, "publish_failed", "{s:s,s:s}", "record", "group", "error",
             avahi_strerror(avahi_server_errno(s)));
        break;
    case AVAHI_ENTRY_GROUP_UNCOMMITED:
    case AVAHI_ENTRY_GROUP_REGISTERING:
        break;
    }
}

static void server_cb(AvahiServer *s, AvahiServerState state, void *ud)
{
    disco *d = ud;
    /* The first call comes from inside avahi_server_new, before it has
     * returned the server to us. */
    if (!d->server)
        d->server = s;
    switch (state) {
    case AVAHI_SERVER_RUNNING:
        d->want_publish = true;
        kick(d);
        break;
    case AVAHI_SERVER_COLLISION:
        d->want_server_rename = true;
        kick(d);
        if (d->group)
            avahi_s_entry_group_reset(d->group);
        break;
    case AVAHI_SERVER_REGISTERING:
        /* avahi's advice: withdraw our records while the server's own name
         * is (re)established; RUNNING publishes them again. */
        if (d->group)
            avahi_s_entry_group_reset(d->group);
        break;
    case AVAHI_SERVER_FAILURE:
        jlog(JLOG_ERROR, COMPONENT, "responder_failed", "{s:s}", "error",
             avahi_strerror(avahi_server_errno(s)));
        break;
    case AVAHI_SERVER_INVALID:
        break;
    }
}

static void kick_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    disco *d = arg;
    if (d->want_server_rename) {
        /* The responder's own host name collided. It publishes nothing
         * under it (no automatic records), so this is rare; renaming makes
         * it go REGISTERING -> RUNNING, which publishes our group again. */
        d->want_server_rename = false;
        char *alt = avahi_alternative_host_name(avahi_server_get_host_name(d->server));
        if (!alt) {
            jlog(JLOG_ERROR, COMPONENT, "responder_failed", "{s:s}", "error",
                 "out of memory for an alternative host name");
        } else {
            jlog(JLOG_WARN, COMPONENT, "name_collision", "{s:s,s:s}", "old_server_host",
                 avahi_server_get_host_name(d->server), "server_host", alt);
            int r = avahi_server_set_host_name(d->server, alt);
            avahi_free(alt);
            if (r < 0)
                jlog(JLOG_ERROR, COMPONENT, "responder_failed", "{s:s}", "error",
                     avahi_strerror(r));
        }
    }
    if (d->want_publish) {
        d->want_publish = false;
        publish(d);
    }
}

static void recheck_cb(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    disco *d = arg;
    uint64_t sig;
    if (d->gave_up || avahi_server_get_state(d->server) != AVAHI_SERVER_RUNNING ||
        !addr_signature(&sig) || sig == d->pub_sig)
        return;
    jlog(JLOG_INFO, COMPONENT, "addresses_changed", "{s:s}", "service", d->service);
    /* Republishing resets the group: goodbyes for the old A records, then
     * probing and announcing the new ones; peers' resolvers report the new
     * address. Not RUNNING: the RUNNING transition publishes anyway. */
    publish(d);
}

/* ---- browsing and resolving ---- */

/* TXT of a peer: first occurrence of each key, case-insensitive keys as
 * DNS-SD says. A key present twice makes the whole TXT ambiguous, so it is
 * refused rather than guessed. */
typedef struct peer_txt {
    char store[KASSA_ID_MAX + 1];
    char node[KASSA_ID_MAX + 1];
    uint32_t proto;
} peer_txt;

/* Copies an id value (size bytes, not NUL-terminated) if it is a valid
 * kassa id. */
static bool take_id(const uint8_t *v, size_t size, char out[KASSA_ID_MAX + 1])
{
    if (size == 0 || size > KASSA_ID_MAX || memchr(v, 0, size))
        return false;
    memcpy(out, v, size);
    out[size] = 0;
    return kassa_valid_id(out, KASSA_ID_MAX);
}

static bool take_proto(const uint8_t *v, size_t size, uint32_t *out)
{
    if (size == 0 || size > PROTO_DIGITS_MAX)
        return false;
    uint64_t x = 0;
    for (size_t i = 0; i < size; i++) {
        if (v[i] < '0' || v[i] > '9')
            return false;
        x = x * 10 + (uint64_t)(v[i] - '0');
    }
    if (x > UINT32_MAX)
        return false;
    *out = (uint32_t)x;
    return true;
}

/* NULL when valid, else why not (for the debug log). */
static const char *parse_txt(AvahiStringList *txt, peer_txt *out)
{
    bool have_store = false, have_node = false, have_proto = false;
    for (AvahiStringList *l = txt; l; l = avahi_string_list_get_next(l)) {
        const uint8_t *t = avahi_string_list_get_text(l);
        size_t size = avahi_string_list_get_size(l);
        const uint8_t *eq = memchr(t, '=', size);
        if (!eq)
            continue; /* a boolean attribute: none of ours */
        size_t klen = (size_t)(eq - t);
        const uint8_t *v = eq + 1;
        size_t vlen = size - klen - 1;
        if (klen == 5 && strncasecmp((const char *)t, "store", 5) == 0) {
            if (have_store)
                return "store given twice";
            if (!take_id(v, vlen, out->store))
                return "bad store";
            have_store = true;
        } else if (klen == 4 && strncasecmp((const char *)t, "node", 4) == 0) {
            if (have_node)
                return "node given twice";
            if (!take_id(v, vlen, out->node))
                return "bad node";
            have_node = true;
        } else if (klen == 5 && strncasecmp((const char *)t, "proto", 5) == 0) {
            if (have_proto)
                return "proto given twice";
            if (!take_proto(v, vlen, &out->proto))
                return "bad proto";
            have_proto = true;
        }
    }
    if (!have_store)
        return "no store";
    if (!have_node)
        return "no node";
    if (!have_proto)
        return "no proto";
    return NULL;
}

static void ignored(const disco_slot *sl, const char *why)
{
    char name[AVAHI_LABEL_MAX];
    printable(sl->name, name);
    jlog(JLOG_DEBUG, COMPONENT, "peer_ignored", "{s:s,s:s}", "service", name, "reason", why);
}

static void slot_forget(disco_slot *sl)
{
    sl->reported = false;
}

static bool already_reported(const disco *d, const char *node, const char *addr, uint16_t port)
{
    for (size_t i = 0; i < DISCO_PEERS_MAX; i++) {
        const disco_slot *o = &d->slots[i];
        if (o->used && o->reported && o->port == port && strcmp(o->node, node) == 0 &&
            strcmp(o->addr, addr) == 0)
            return true;
    }
    return false;
}

static void resolved(disco_slot *sl, const AvahiAddress *a, uint16_t port, AvahiStringList *txt)
{
    disco *d = sl->d;
    peer_txt pt;
    const char *why = parse_txt(txt, &pt);
    if (why) {
        slot_forget(sl);
        ignored(sl, why);
        return;
    }
    if (strcmp(pt.store, d->store) != 0) {
        slot_forget(sl);
        ignored(sl, "other store");
        return;
    }
    if (strcmp(pt.node, d->node) == 0) {
        /* Ourselves, or another process claiming our node id: either way
         * not a peer. */
        slot_forget(sl);
        ignored(sl, "our own node");
        return;
    }
    if (!a || a->proto != AVAHI_PROTO_INET) {
        slot_forget(sl);
        ignored(sl, "no IPv4 address");
        return;
    }
    if (port == 0) {
        slot_forget(sl);
        ignored(sl, "port 0");
        return;
    }
    char addr[INET_ADDRSTRLEN];
    struct in_addr in = {.s_addr = a->data.ipv4.address};
    if (!inet_ntop(AF_INET, &in, addr, sizeof addr)) {
        slot_forget(sl);
        ignored(sl, "unprintable address");
        return;
    }
    if (already_reported(d, pt.node, addr, port)) {
        /* The same again (a re-announcement, the other interface): keep it
         * as this slot's too, so it is not reported once more if the first
         * reporter goes away. */
        sl->reported = true;
        memcpy(sl->node, pt.node, sizeof sl->node);
        memcpy(sl->addr, addr, sizeof sl->addr);
        sl->port = port;
        return;
    }
    sl->reported = true;
    memcpy(sl->node, pt.node, sizeof sl->node);
    memcpy(sl->addr, addr, sizeof sl->addr);
    sl->port = port;
    jlog(JLOG_INFO, COMPONENT, "peer_found", "{s:s,s:s,s:i}", "node", sl->node, "addr", sl->addr,
         "port", (int)port);
    d->found(d->ctx, pt.node, addr, port);
}

static void slot_free(disco_slot *sl)
{
    if (sl->resolver)
        avahi_s_service_resolver_free(sl->resolver);
    disco *d = sl->d;
    memset(sl, 0, sizeof *sl);
    sl->d = d;
    d->full_warned = false;
}

static void resolver_cb(AvahiSServiceResolver *r, AvahiIfIndex iface, AvahiProtocol proto,
                        AvahiResolverEvent event, const char *name, const char *type,
                        const char *domain, const char *host, const AvahiAddress *a, uint16_t port,
                        AvahiStringList *txt, AvahiLookupResultFlags flags, void *ud)
{
    (void)r;
    (void)iface;
    (void)proto;
    (void)name;
    (void)type;
    (void)domain;
    (void)host;
    (void)flags;
    disco_slot *sl = ud;
    if (event == AVAHI_RESOLVER_FOUND) {
        resolved(sl, a, port, txt);
        return;
    }
    /* A timeout leaves the resolver watching (avahi reports FOUND when the
     * records turn up); anything else means it is dead: drop the slot, a
     * new announcement starts over. */
    int e = avahi_server_errno(sl->d->server);
    if (e == AVAHI_ERR_TIMEOUT) {
        ignored(sl, "resolve timed out");
        return;
    }
    ignored(sl, avahi_strerror(e));
    slot_free(sl);
}

static disco_slot *slot_find(disco *d, AvahiIfIndex iface, AvahiProtocol proto, const char *name)
{
    for (size_t i = 0; i < DISCO_PEERS_MAX; i++) {
        disco_slot *sl = &d->slots[i];
        if (sl->used && sl->iface == iface && sl->proto == proto && strcmp(sl->name, name) == 0)
            return sl;
    }
    return NULL;
}

static void browse_new(disco *d, AvahiIfIndex iface, AvahiProtocol proto, const char *name,
                       const char *type, const char *domain, AvahiLookupResultFlags flags)
{
    /* Our own instance, registered in this very server. */
    if ((flags & AVAHI_LOOKUP_RESULT_LOCAL) && strcmp(name, d->service) == 0)
        return;
    if (strlen(name) > LABEL_MAX || slot_find(d, iface, proto, name))
        return;
    disco_slot *sl = NULL;
    for (size_t i = 0; i < DISCO_PEERS_MAX && !sl; i++)
        if (!d->slots[i].used)
            sl = &d->slots[i];
    if (!sl) {
        if (!d->full_warned) {
            d->full_warned = true;
            jlog(JLOG_WARN, COMPONENT, "too_many_services", "{s:i}", "max", DISCO_PEERS_MAX);
        }
        return;
    }
    sl->used = true;
    sl->iface = iface;
    sl->proto = proto;
    memcpy(sl->name, name, strlen(name) + 1);
    /* prepare + start: with _new a cached answer could call back before
     * the resolver pointer is stored. */
    sl->resolver = avahi_s_service_resolver_prepare(d->server, iface, proto, name, type, domain,
                                                    AVAHI_PROTO_INET, 0, resolver_cb, sl);
    if (!sl->resolver) {
        ignored(sl, avahi_strerror(avahi_server_errno(d->server)));
        slot_free(sl);
        return;
    }
    avahi_s_service_resolver_start(sl->resolver);
}

static void browser_cb(AvahiSServiceBrowser *b, AvahiIfIndex iface, AvahiProtocol proto,
                       AvahiBrowserEvent event, const char *name, const char *type,
                       const char *domain, AvahiLookupResultFlags flags, void *ud)
{
    (void)b;
    disco *d = ud;
    switch (event) {
    case AVAHI_BROWSER_NEW:
        browse_new(d, iface, proto, name, type, domain, flags);
        break;
    case AVAHI_BROWSER_REMOVE: {
        /* A goodbye or an expired record. Forgetting the instance means a
         * peer that comes back is reported again (the caller may want to
         * reconnect); it is not a death notice (see disco.h). */
        disco_slot *sl = slot_find(d, iface, proto, name);
        if (sl)
            slot_free(sl);
        break;
    }
    case AVAHI_BROWSER_FAILURE:
        jlog(JLOG_ERROR, COMPONENT, "browse_failed", "{s:s}", "error",
             avahi_strerror(avahi_server_errno(d->server)));
        break;
    case AVAHI_BROWSER_CACHE_EXHAUSTED:
    case AVAHI_BROWSER_ALL_FOR_NOW:
        break;
    }
}

/* ---- start and stop ---- */

/* TXT store=, node=, proto=. avahi_string_list_add_* return NULL on failure
 * without freeing the list passed in, so each step keeps the old head. */
static int build_txt(disco *d, uint32_t proto)
{
    AvahiStringList *l = NULL, *t;
    if (!(t = avahi_string_list_add_pair(l, "store", d->store)))
        goto oom;
    l = t;
    if (!(t = avahi_string_list_add_pair(l, "node", d->node)))
        goto oom;
    l = t;
    if (!(t = avahi_string_list_add_printf(l, "proto=%u", (unsigned)proto)))
        goto oom;
    d->txt = t;
    return 0;
oom:
    avahi_string_list_free(l);
    return -1;
}

int disco_start(struct event_base *base, const disco_config *cfg, disco_found_fn found, void *ctx,
                disco **out, kassa_err *err)
{
    if (!out)
        return kassa_fail(err, KASSA_EINVAL, "discovery: no place for the result");
    *out = NULL;
    if (!base || !cfg || !found)
        return kassa_fail(err, KASSA_EINVAL, "discovery: missing event base, config or callback");
    if (!cfg->store || !kassa_valid_id(cfg->store, KASSA_ID_MAX))
        return kassa_fail(err, KASSA_EINVAL, "discovery: invalid store id");
    if (!cfg->node || !kassa_valid_id(cfg->node, KASSA_ID_MAX))
        return kassa_fail(err, KASSA_EINVAL, "discovery: invalid node id");
    if (cfg->port == 0)
        return kassa_fail(err, KASSA_EINVAL, "discovery: peer-link port 0");

    disco *d = calloc(1, sizeof *d);
    if (!d)
        return kassa_fail(err, KASSA_ENOMEM, "discovery: out of memory");
    d->base = base;
    d->found = found;
    d->ctx = ctx;
    d->port = cfg->port;
    memcpy(d->store, cfg->store, strlen(cfg->store) + 1);
    memcpy(d->node, cfg->node, strlen(cfg->node) + 1);
    for (size_t i = 0; i < DISCO_PEERS_MAX; i++)
        d->slots[i].d = d;
    if (cfg->publish_addr) {
        if (inet_pton(AF_INET, cfg->publish_addr, &d->addr) != 1) {
            free(d);
            return kassa_fail(err, KASSA_EINVAL,
                              "discovery: publish address is not a numeric IPv4 address");
        }
        d->have_addr = true;
    }
    make_label(d->store, d->node, d->host);
    memcpy(d->service, d->host, sizeof d->service);
    disco_evpoll_init(&d->poll, base);

    int rc;
    d->kick = event_new(base, -1, 0, kick_cb, d);
    if (!d->kick || build_txt(d, cfg->proto) != 0) {
        rc = kassa_fail(err, KASSA_ENOMEM, "discovery: out of memory");
        goto fail;
    }

    if (!cfg->publish_addr) {
        /* Refuse at once rather than run a responder nobody can reach. */
        struct ifaddrs *ifs;
        if (getifaddrs(&ifs) != 0) {
            rc = kassa_fail(err, KASSA_EIO, "discovery: cannot list network interfaces: %s",
                            strerror(errno));
            goto fail;
        }
        bool any = false;
        for (struct ifaddrs *i = ifs; i && !any; i = i->ifa_next)
            any = usable_ifaddr(i);
        freeifaddrs(ifs);
        if (!any) {
            rc = kassa_fail(err, KASSA_ENOTFOUND,
                            "discovery: no up, multicast, non-loopback IPv4 interface to publish "
                            "on (a loopback-only host must give its address to publish)");
            goto fail;
        }
    }

    avahi_set_log_function(avahi_to_jlog);

    AvahiServerConfig sc;
    if (!avahi_server_config_init(&sc)) {
        rc = kassa_fail(err, KASSA_ENOMEM, "discovery: out of memory");
        goto fail;
    }
    sc.host_name = avahi_strdup(d->host);
    sc.use_ipv4 = 1;
    sc.use_ipv6 = 0;
    /* No automatic host records: the reverse PTR of a shared address is
     * what two responders in one namespace fight over (DESIGN.md §8). */
    sc.publish_addresses = 0;
    sc.publish_hinfo = 0;
    sc.publish_workstation = 0;
    sc.publish_domain = 0;
    sc.enable_wide_area = 0;
    sc.enable_reflector = 0;
    /* Share port 5353 with any other responder on the machine. */
    sc.disallow_other_stacks = 0;
    if (!sc.host_name) {
        avahi_server_config_free(&sc);
        rc = kassa_fail(err, KASSA_ENOMEM, "discovery: out of memory");
        goto fail;
    }
    int aerr = 0;
    AvahiServer *s = avahi_server_new(&d->poll.api, &sc, server_cb, d, &aerr);
    avahi_server_config_free(&sc);
    if (!s) {
        /* server_cb may have stored the pointer before avahi freed it. */
        d->server = NULL;
        rc = kassa_fail(err, avahi_to_kassa(aerr),
                        "discovery: cannot start the mDNS responder: %s%s", avahi_strerror(aerr),
                        aerr == AVAHI_ERR_NO_NETWORK ? " (no usable UDP socket on port 5353)" : "");
        goto fail;
    }
    d->server = s;
    if (avahi_server_get_state(s) == AVAHI_SERVER_FAILURE) {
        rc = kassa_fail(err, KASSA_EIO, "discovery: mDNS responder failed: %s",
                        avahi_strerror(avahi_server_errno(s)));
        goto fail;
    }

    d->browser = avahi_s_service_browser_prepare(s, AVAHI_IF_UNSPEC, AVAHI_PROTO_INET,
                                                 DISCO_SERVICE_TYPE, NULL, 0, browser_cb, d);
    if (!d->browser) {
        int e = avahi_server_errno(s);
        rc = kassa_fail(err, avahi_to_kassa(e), "discovery: cannot browse %s: %s",
                        DISCO_SERVICE_TYPE, avahi_strerror(e));
        goto fail;
    }
    avahi_s_service_browser_start(d->browser);

    if (!d->have_addr) {
        struct timeval every = {.tv_sec = DISCO_ADDR_RECHECK_MS / 1000,
                                .tv_usec = (DISCO_ADDR_RECHECK_MS % 1000) * 1000};
        d->recheck = event_new(base, -1, EV_PERSIST, recheck_cb, d);
        if (!d->recheck || event_add(d->recheck, &every) != 0) {
            rc = kassa_fail(err, KASSA_ENOMEM, "discovery: cannot add the address timer");
            goto fail;
        }
    }

    jlog(JLOG_INFO, COMPONENT, "start", "{s:s,s:s,s:s,s:i}", "store", d->store, "node", d->node,
         "service", d->service, "port", (int)d->port);
    *out = d;
    return KASSA_OK;

fail:
    disco_free(d);
    return rc;
}

void disco_free(disco *d)
{
    if (!d)
        return;
    /* Children before the server: their free functions reach into it. */
    for (size_t i = 0; i < DISCO_PEERS_MAX; i++)
        if (d->slots[i].resolver)
            avahi_s_service_resolver_free(d->slots[i].resolver);
    if (d->browser)
        avahi_s_service_browser_free(d->browser);
    if (d->group)
        avahi_s_entry_group_free(d->group); /* withdraws: goodbye packets */
    if (d->server)
        avahi_server_free(d->server);
    size_t left = disco_evpoll_done(&d->poll);
    if (left)
        jlog(JLOG_WARN, COMPONENT, "event_leftovers", "{s:i}", "count", (int)left);
    if (d->recheck)
        event_free(d->recheck);
    if (d->kick)
        event_free(d->kick);
    avahi_string_list_free(d->txt);
    free(d);
}
