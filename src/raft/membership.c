/*
 * Configurations. A CONF_ADD / CONF_REMOVE entry carries the node changed
 * and the whole configuration in force from that entry on, so any node
 * (even one that joined with an empty configuration) knows the voters from
 * the last CONF entry in its log, or from its snapshot when the log holds
 * none. A configuration is in force as soon as its entry is in the log
 * (Raft dissertation §4.1); a truncation that removes it brings the
 * previous one back.
 */
#include "raft/raft_internal.h"

bool raft_entry_is_conf(uint8_t type)
{
    return type == RAFT_ENTRY_CONF_ADD || type == RAFT_ENTRY_CONF_REMOVE;
}

bool raft_conf_has(const raft_conf *c, const char *id)
{
    RAFT_ASSERT(c->n <= RAFT_MEMBERS_MAX);
    for (uint32_t i = 0; i < c->n; i++)
        if (strcmp(c->ids[i], id) == 0)
            return true;
    return false;
}

void raft_conf_add(raft_conf *c, const char *id)
{
    RAFT_ASSERT(c->n < RAFT_MEMBERS_MAX);
    uint32_t at = 0;
    while (at < c->n && strcmp(c->ids[at], id) < 0)
        at++;
    memmove(&c->ids[at + 1], &c->ids[at], (size_t)(c->n - at) * sizeof c->ids[0]);
    memset(c->ids[at], 0, sizeof c->ids[at]);
    raft_id_copy(c->ids[at], id);
    c->n++;
}

void raft_conf_remove(raft_conf *c, const char *id)
{
    uint32_t at = 0;
    while (at < c->n && strcmp(c->ids[at], id) != 0)
        at++;
    RAFT_ASSERT(at < c->n);
    memmove(&c->ids[at], &c->ids[at + 1], (size_t)(c->n - at - 1) * sizeof c->ids[0]);
    c->n--;
    memset(c->ids[c->n], 0, sizeof c->ids[c->n]);
}

int raft_conf_check(const raft_conf *c, kassa_err *err)
{
    if (c->n > RAFT_MEMBERS_MAX)
        return kassa_fail(err, KASSA_ECORRUPT, "configuration of %u members (max %d)",
                          (unsigned)c->n, RAFT_MEMBERS_MAX);
    for (uint32_t i = 0; i < c->n; i++) {
        if (!memchr(c->ids[i], '\0', RAFT_ID_SIZE) || !kassa_valid_id(c->ids[i], KASSA_ID_MAX))
            return kassa_fail(err, KASSA_ECORRUPT, "configuration member %u: bad id", (unsigned)i);
        if (i > 0 && strcmp(c->ids[i - 1], c->ids[i]) >= 0)
            return kassa_fail(err, KASSA_ECORRUPT,
                              "configuration members not sorted or not unique");
    }
    return KASSA_OK;
}

int raft_conf_data_encode(const char *node, const raft_conf *c, uint8_t *out, uint16_t *len,
                          kassa_err *err)
{
    kbuf b;
    kbuf_init(&b);
    kbuf_put_str(&b, node);
    kbuf_put_uvarint(&b, c->n);
    for (uint32_t i = 0; i < c->n && i < RAFT_MEMBERS_MAX; i++)
        kbuf_put_str(&b, c->ids[i]);
    if (b.oom) {
        kbuf_free(&b);
        return kassa_fail(err, KASSA_ENOMEM, "out of memory encoding a configuration");
    }
    /* At most 1 + 32 + 1 + 16 * 33 bytes. */
    RAFT_ASSERT(b.len <= RAFT_ENTRY_DATA_MAX);
    memcpy(out, b.data, b.len);
    *len = (uint16_t)b.len;
    kbuf_free(&b);
    return KASSA_OK;
}

int raft_conf_data_decode(uint8_t type, const uint8_t *p, size_t n, char node[RAFT_ID_SIZE],
                          raft_conf *c, kassa_err *err)
{
    if (!raft_entry_is_conf(type))
        return kassa_fail(err, KASSA_EINVAL, "not a configuration entry (type %u)", (unsigned)type);
    kreader rd;
    kreader_init(&rd, p, n);
    char who[RAFT_ID_SIZE];
    uint64_t count;
    if (!kreader_str(&rd, who, sizeof who) || !kassa_valid_id(who, KASSA_ID_MAX))
        return kassa_fail(err, KASSA_ECORRUPT, "configuration entry: bad node id");
    if (!kreader_uvarint(&rd, &count) || count == 0 || count > RAFT_MEMBERS_MAX)
        return kassa_fail(err, KASSA_ECORRUPT, "configuration entry: bad member count");
    raft_conf conf;
    memset(&conf, 0, sizeof conf);
    conf.n = (uint32_t)count;
    for (uint32_t i = 0; i < conf.n; i++)
        if (!kreader_str(&rd, conf.ids[i], sizeof conf.ids[i]))
            return kassa_fail(err, KASSA_ECORRUPT, "configuration entry: bad member %u",
                              (unsigned)i);
    if (kreader_left(&rd) != 0)
        return kassa_fail(err, KASSA_ECORRUPT, "configuration entry: trailing bytes");
    int rc = raft_conf_check(&conf, err);
    if (rc != KASSA_OK)
        return rc;
    bool has = raft_conf_has(&conf, who);
    if (type == RAFT_ENTRY_CONF_ADD && !has)
        return kassa_fail(err, KASSA_ECORRUPT, "configuration entry adds a node it lacks");
    if (type == RAFT_ENTRY_CONF_REMOVE && has)
        return kassa_fail(err, KASSA_ECORRUPT, "configuration entry removes a node it keeps");
    if (node)
        memcpy(node, who, sizeof who);
    if (c)
        *c = conf;
    return KASSA_OK;
}

int raft_entry_conf(const raft_entry *e, char node[RAFT_ID_SIZE], raft_conf *conf, kassa_err *err)
{
    if (e->len > RAFT_ENTRY_DATA_MAX)
        return kassa_fail(err, KASSA_ECORRUPT, "entry data too long");
    return raft_conf_data_decode(e->type, e->data, e->len, node, conf, err);
}

raft_peer *raft_peer_find(raft *r, const char *id)
{
    RAFT_ASSERT(r->n_peers <= RAFT_MEMBERS_MAX);
    for (uint32_t i = 0; i < r->n_peers; i++)
        if (strcmp(r->peers[i].id, id) == 0)
            return &r->peers[i];
    return NULL;
}

raft_peer *raft_peer_self(raft *r)
{
    return raft_peer_find(r, r->cfg.id);
}

bool raft_self_voter(const raft *r)
{
    return raft_conf_has(&r->conf, r->cfg.id);
}

uint32_t raft_quorum(const raft *r)
{
    return r->n_peers / 2 + 1;
}

/* Makes peers[] follow conf: members that stay keep their progress and
 * score, new ones start probing from the end of the log (and count as
 * active for the current CheckQuorum period). */
static void peers_rebuild(raft *r)
{
    raft_peer old[RAFT_MEMBERS_MAX];
    uint32_t n_old = r->n_peers;
    memcpy(old, r->peers, sizeof old);
    r->n_peers = 0;
    for (uint32_t i = 0; i < r->conf.n; i++) {
        raft_peer *p = &r->peers[r->n_peers++];
        const raft_peer *was = NULL;
        for (uint32_t j = 0; j < n_old; j++)
            if (strcmp(old[j].id, r->conf.ids[i]) == 0)
                was = &old[j];
        if (was) {
            *p = *was;
            continue;
        }
        memset(p, 0, sizeof *p);
        raft_id_copy(p->id, r->conf.ids[i]);
        p->self = strcmp(p->id, r->cfg.id) == 0;
        raft_progress_reset(r, p);
        p->recent_active = true;
        if (p->self) {
            p->score_known = r->self_score_known;
            p->score = r->self_score;
        }
    }
}

void raft_membership_refresh(raft *r)
{
    raft_conf conf = r->snap.conf;
    uint64_t conf_index = 0;
    for (uint32_t k = r->log_n; k > 0; k--) {
        const raft_entry *e = &r->log[k - 1];
        if (raft_entry_is_conf(e->type)) {
            RAFT_ASSERT(raft_conf_data_decode(e->type, e->data, e->len, NULL, &conf, NULL) ==
                        KASSA_OK);
            conf_index = e->index;
            break;
        }
    }
    r->conf_index = conf_index;
    bool same = conf.n == r->conf.n;
    for (uint32_t i = 0; same && i < conf.n; i++)
        same = strcmp(conf.ids[i], r->conf.ids[i]) == 0;
    r->conf = conf;
    if (!same || r->n_peers != conf.n)
        peers_rebuild(r);
}
