/*
 * config: kassad's settings. Defaults, then the INI file given with
 * --config, then the command-line flags (--data, --api-listen, --log-level)
 * on top. Every setting, its range and its default is in
 * docs/CONFIGURATION.md; the table in config.c is the single source.
 */
#ifndef KASSAD_CONFIG_H
#define KASSAD_CONFIG_H

#include "base/base.h"
#include "jlog/jlog.h"

#include <stddef.h>
#include <stdint.h>

#define KD_PATH_MAX_BYTES 4096
#define KD_HOST_MAX_BYTES 256
/* Terminals in one store's roster, and static peer addresses. */
#define KD_ROSTER_MAX 256
#define KD_STATIC_PEERS_MAX 64
#define KD_ADDR_MAX_BYTES (KD_HOST_MAX_BYTES + 8)

typedef struct kd_config {
    /* [terminal] */
    char data_dir[KD_PATH_MAX_BYTES];
    int64_t checkpoint_idle_ms;
    int64_t max_pin_failures;
    int64_t pin_lockout_s;
    /* [api] */
    char listen[KD_HOST_MAX_BYTES + 8]; /* HOST:PORT as given */
    char listen_host[KD_HOST_MAX_BYTES];
    uint16_t listen_port;
    char web_root[KD_PATH_MAX_BYTES];
    int64_t max_body_size_bytes;
    int64_t connection_timeout_s;
    int64_t shutdown_drain_timeout_ms;
    int64_t max_sessions;
    int64_t session_ttl_s;
    int64_t max_open_carts;
    int64_t cart_idle_timeout_s;
    /* [peer]: links to the other terminals of the store (off while
     * listen is empty) */
    char peer_listen[KD_ADDR_MAX_BYTES];
    char peer_listen_host[KD_HOST_MAX_BYTES];
    uint16_t peer_listen_port;
    char peer_cert_dir[KD_PATH_MAX_BYTES];
    char roster[KD_ROSTER_MAX][KASSA_ID_MAX + 1];
    size_t n_roster;
    char static_peers[KD_STATIC_PEERS_MAX][KD_ADDR_MAX_BYTES];
    size_t n_static_peers;
    int64_t mdns;
    int64_t anti_entropy_ms;
    int64_t reconnect_min_ms;
    int64_t reconnect_max_ms;
    int64_t idle_timeout_ms;
    int64_t send_buffer_max_bytes;
    /* [raft]: the store's coordination group over the peer links (on when
     * the peer links are) */
    int64_t raft_tick_ms;
    int64_t raft_heartbeat_ms;
    int64_t raft_election_min_ms;
    int64_t raft_election_max_ms;
    int64_t raft_prefer_stable_ms;
    /* The applied log is compacted into a snapshot past this many entries. */
    int64_t raft_log_compact_entries;
    /* [payments]: the card path (docs/PAYMENTS.md); cards are refused
     * while reader_socket is empty, and always handled offline while
     * processor is empty. */
    char reader_socket[KD_PATH_MAX_BYTES];
    int64_t reader_timeout_ms;
    char processor[KD_ADDR_MAX_BYTES]; /* HOST:PORT of the processor's API */
    char processor_host[KD_HOST_MAX_BYTES];
    uint16_t processor_port;
    int64_t processor_timeout_ms;
    int64_t offline_max_amount_minor;  /* per offline card payment */
    int64_t offline_max_pending_minor; /* stored, not yet forwarded, this terminal */
    int64_t offline_max_per_card;      /* stored payments on one card token */
    int64_t offline_max_age_s;         /* a stored payment older expires */
    int64_t forward_retry_min_ms;
    int64_t forward_retry_max_ms;
    /* [cloud]: the store's uploads and downlink (docs/CLOUD.md); off while
     * url is empty. The device certificate is [peer] cert_dir's. */
    char cloud[KD_ADDR_MAX_BYTES]; /* HOST:PORT of kassa-cloud */
    char cloud_host[KD_HOST_MAX_BYTES];
    uint16_t cloud_port;
    int64_t cloud_timeout_ms;
    int64_t cloud_upload_interval_s;
    int64_t cloud_probe_min_ms;
    int64_t cloud_probe_max_ms;
    /* Local compaction (compact.c): operations older than retention_s
     * that the cloud and every terminal hold are dropped, checked every
     * compact_interval_s (0: never). */
    int64_t cloud_retention_s;
    int64_t cloud_compact_interval_s;
    /* [ai]: product recognition (ai.c, docs/AI.md) */
    char ai_camera[KD_PATH_MAX_BYTES]; /* V4L2 device; "" none */
    int64_t ai_camera_width, ai_camera_height;
    int64_t ai_threshold_pct; /* 0: the model's own */
    int64_t ai_max_image_bytes;
    /* [voice]: voice ordering (voice.c, docs/VOICE.md) */
    char voice_synonyms[KD_PATH_MAX_BYTES]; /* sku,phrase CSV; "" none */
    int64_t voice_max_audio_bytes;
    /* [fraud]: the fraud scorer (docs/FRAUD.md, "In kassad"); thresholds
     * in basis points of probability, 0: the model manifest's policy */
    int64_t fraud_enabled;
    char fraud_model[KASSA_ID_MAX + 1]; /* the registry name of the model */
    int64_t fraud_review_at_bp;
    int64_t fraud_supervisor_at_bp;
    int64_t fraud_refuse_offline_card_at_bp;
    /* [log] */
    jlog_level log_level;
} kd_config;

/* Splits "HOST:PORT" or "[V6]:PORT" (port 0..65535). */
int kd_split_addr(const char *addr, char host[KD_HOST_MAX_BYTES], uint16_t *port, kassa_err *err);

void kd_config_defaults(kd_config *c);
/* Reads an INI file over the current values. Unknown sections or keys,
 * values out of range and unreadable files are errors naming the line. */
int kd_config_load(kd_config *c, const char *path, kassa_err *err);
/* Sets one setting by section and key from text (the file and the flags
 * share it). */
int kd_config_set(kd_config *c, const char *section, const char *key, const char *value,
                  kassa_err *err);
/* Final checks once every source is applied (data_dir given, listen
 * address split into host and port). */
int kd_config_finish(kd_config *c, kassa_err *err);

#endif
