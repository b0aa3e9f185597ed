/*
 * sim_net: the simulated network between the terminals and the cloud.
 *
 * A message is a datagram from one endpoint to another carrying bytes (a
 * real wire frame for the peer links and the cloud, see sim_link.c and
 * sim_cloud.c). Each directed pair of endpoints is a path with its own
 * faults, drawn per seed and changed by the fault scheduler:
 *  - delay: uniform in [delay_min_us, delay_max_us];
 *  - loss: a message vanishes with loss_pct %;
 *  - duplication: it arrives twice with dup_pct % (each copy its delay);
 *  - reordering: without it a path delivers in send order (FIFO, as the
 *    TCP links of the real daemon do); with it each message keeps its own
 *    delay, so later ones overtake earlier ones;
 *  - cut: nothing gets through, checked when sent and again when it would
 *    arrive (a message on the wire when the cable is pulled is lost).
 *    Cutting both directions of some pairs makes a partition; cutting one
 *    direction only (a -> b while b -> a works) an asymmetric one.
 * A message to a node that is down when it arrives is lost too.
 */
#ifndef KASSA_SIM_NET_H
#define KASSA_SIM_NET_H

#include "base/base.h"
#include "sim_base.h"

struct sim_world;

typedef enum sim_msg_kind {
    SIM_MSG_PEER = 1,    /* a wire frame on a peer link (conn: the link) */
    SIM_MSG_RST,         /* "no such link": the receiver had no link conn */
    SIM_MSG_CLOUD_PROBE, /* uploader -> cloud: what do you hold? */
    SIM_MSG_CLOUD_UP,    /* uploader -> cloud: an OpsBatch frame */
    SIM_MSG_CLOUD_ACK,   /* cloud -> uploader: an Ack frame with its vv */
} sim_msg_kind;

typedef struct sim_msg {
    bool used;
    uint8_t kind;
    uint8_t from, to;
    uint32_t conn; /* the link (peer frames, resets) or the upload number */
    uint64_t id;   /* sent-message number, shared by duplicates */
    kbuf data;     /* kept allocated across uses */
} sim_msg;

typedef struct sim_path {
    uint32_t delay_min_us, delay_max_us;
    uint8_t loss_pct, dup_pct;
    bool cut;
    uint64_t fifo_us; /* latest arrival scheduled: the FIFO floor */
} sim_path;

typedef struct sim_net_stats {
    uint64_t sent, delivered, lost, duplicated, cut, to_down;
} sim_net_stats;

typedef struct sim_net {
    bool reorder;
    sim_path path[SIM_EP_MAX][SIM_EP_MAX];
    size_t n_free;
    uint32_t free_slot[SIM_MSGS_MAX];
    sim_msg msg[SIM_MSGS_MAX];
    uint64_t next_id;
    sim_net_stats stats;
} sim_net;

/* Every slot free, every path fast and clean. */
void sim_net_reset(sim_net *net);
void sim_net_free(sim_net *net);
/* Sends a copy of data (one whole frame); schedules its deliveries. */
void sim_net_send(struct sim_world *w, int from, int to, sim_msg_kind kind, uint32_t conn,
                  const uint8_t *data, size_t len);
/* The message of a delivery event, or NULL when it is lost on arrival (the
 * path was cut meanwhile, or the receiver is down); then it was released. */
sim_msg *sim_net_arrive(struct sim_world *w, uint32_t slot);
void sim_net_release(sim_net *net, sim_msg *m);
const char *sim_msg_kind_name(int kind);

#endif
