/*
 * disco/evpoll: avahi's main-loop abstraction (AvahiPoll) on a libevent
 * event_base. Internal to disco.
 *
 * avahi-core asks for two things: I/O watches on its sockets (the mDNS UDP
 * socket and the netlink socket that follows interface changes) and timeouts
 * at absolute times (gettimeofday clock) for probing, announcing, query
 * back-off and cache expiry. Each AvahiWatch is one persistent libevent
 * event on the fd; each AvahiTimeout one libevent timer, armed with the
 * delay left until the absolute time avahi gives.
 *
 * Every live watch and timeout is also kept on a list, so disco_evpoll_done
 * can free whatever avahi left behind: a leftover would otherwise be a
 * libevent event firing into freed memory. The AvahiPoll callbacks return
 * nothing, so a libevent failure inside them (event_add running out of
 * memory) is logged; avahi's next timeout or packet retries.
 */
#ifndef KASSA_DISCO_EVPOLL_H
#define KASSA_DISCO_EVPOLL_H

#include <avahi-common/watch.h>
#include <stddef.h>

struct event_base;

typedef struct disco_evpoll {
    AvahiPoll api; /* handed to avahi_server_new; api.userdata points here */
    struct event_base *base;
    AvahiWatch *watches; /* live watches (doubly linked) */
    AvahiTimeout *timeouts;
    size_t n_watches, n_timeouts;
} disco_evpoll;

/* The adapter must stay at this address while avahi uses it. */
void disco_evpoll_init(disco_evpoll *p, struct event_base *base);

/* Frees every watch and timeout still alive (normally none once the
 * AvahiServer is freed) and returns how many there were. */
size_t disco_evpoll_done(disco_evpoll *p);

#endif
