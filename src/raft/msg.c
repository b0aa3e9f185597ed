/*
 * Messages: the per-type field rules and the binary encoding (raft.h).
 *
 * The decoder takes untrusted bytes. Every length is bounded before use
 * (kreader), every varint canonical, every field checked against its type,
 * trailing bytes refused; so an accepted message has exactly one encoding.
 */
#include "raft/raft_internal.h"

#define RAFT_MSG_VERSION 1
#define FLAG_REJECT 0x01
#define FLAG_TRANSFER 0x02
#define FLAG_SCORE 0x04
#define FLAGS_ALL (FLAG_REJECT | FLAG_TRANSFER | FLAG_SCORE)

/* Header 3 + 5 varints + 2 ids + score + count; per entry type, term delta,
 * length and data; a snapshot's meta and data. */
#define HEADER_MAX (3 + 5 * KASSA_UVARINT_MAX + 2 * (1 + KASSA_ID_MAX) + 2 * KASSA_UVARINT_MAX)
#define ENTRY_MAX (1 + KASSA_UVARINT_MAX + 2 + RAFT_ENTRY_DATA_MAX)
#define SNAPSHOT_META_MAX (3 * KASSA_UVARINT_MAX + RAFT_MEMBERS_MAX * (1 + KASSA_ID_MAX) + 3)
_Static_assert(HEADER_MAX + RAFT_MSG_ENTRIES_MAX * ENTRY_MAX <= RAFT_MSG_ENCODED_MAX,
               "append messages must fit RAFT_MSG_ENCODED_MAX");
_Static_assert(HEADER_MAX + SNAPSHOT_META_MAX + RAFT_SNAPSHOT_MAX <= RAFT_MSG_ENCODED_MAX,
               "snapshot messages must fit RAFT_MSG_ENCODED_MAX");
_Static_assert(RAFT_ENTRY_DATA_MAX < (1 << 14), "entry length is a 2-byte varint");

const char *raft_msg_type_name(uint8_t type)
{
    switch (type) {
    case RAFT_MSG_PREVOTE:
        return "MsgPreVote";
    case RAFT_MSG_PREVOTE_RESP:
        return "MsgPreVoteResp";
    case RAFT_MSG_VOTE:
        return "MsgVote";
    case RAFT_MSG_VOTE_RESP:
        return "MsgVoteResp";
    case RAFT_MSG_APP:
        return "MsgApp";
    case RAFT_MSG_APP_RESP:
        return "MsgAppResp";
    case RAFT_MSG_HEARTBEAT:
        return "MsgHeartbeat";
    case RAFT_MSG_HEARTBEAT_RESP:
        return "MsgHeartbeatResp";
    case RAFT_MSG_SNAPSHOT:
        return "MsgSnapshot";
    case RAFT_MSG_TIMEOUT_NOW:
        return "MsgTimeoutNow";
    default:
        return "MsgUnknown";
    }
}

/* Which fields each type may carry (the others must be zero). */
enum {
    F_LOG_TERM = 1 << 0,
    F_INDEX = 1 << 1,
    F_COMMIT = 1 << 2,
    F_REJECT = 1 << 3,
    F_HINT = 1 << 4,
    F_TRANSFER = 1 << 5,
    F_SCORE = 1 << 6,
    F_ENTRIES = 1 << 7,
    F_SNAPSHOT = 1 << 8,
};

static unsigned fields_of(uint8_t type)
{
    switch (type) {
    case RAFT_MSG_PREVOTE:
        return F_LOG_TERM | F_INDEX;
    case RAFT_MSG_VOTE:
        return F_LOG_TERM | F_INDEX | F_TRANSFER;
    case RAFT_MSG_PREVOTE_RESP:
    case RAFT_MSG_VOTE_RESP:
        return F_REJECT;
    case RAFT_MSG_APP:
        return F_LOG_TERM | F_INDEX | F_COMMIT | F_ENTRIES;
    case RAFT_MSG_APP_RESP:
        return F_INDEX | F_REJECT | F_HINT | F_LOG_TERM | F_SCORE;
    case RAFT_MSG_HEARTBEAT:
        return F_COMMIT;
    case RAFT_MSG_HEARTBEAT_RESP:
        return F_SCORE;
    case RAFT_MSG_SNAPSHOT:
        return F_SNAPSHOT;
    case RAFT_MSG_TIMEOUT_NOW:
        return 0;
    default:
        return 0;
    }
}

static bool id_ok(const char *id)
{
    return memchr(id, '\0', RAFT_ID_SIZE) && kassa_valid_id(id, KASSA_ID_MAX);
}

static int check_entries(const raft_msg *m, kassa_err *err)
{
    if (m->n_entries > RAFT_MSG_ENTRIES_MAX)
        return kassa_fail(err, KASSA_ECORRUPT, "%u entries in one message (max %d)",
                          (unsigned)m->n_entries, RAFT_MSG_ENTRIES_MAX);
    if (m->n_entries == 0)
        return KASSA_OK;
    if (!m->entries)
        return kassa_fail(err, KASSA_ECORRUPT, "entries missing");
    if (m->index + m->n_entries >= RAFT_INDEX_MAX)
        return kassa_fail(err, KASSA_ECORRUPT, "entry index too large");
    uint64_t prev_term = m->log_term;
    for (uint32_t i = 0; i < m->n_entries; i++) {
        const raft_entry *e = &m->entries[i];
        if (e->index != m->index + 1 + i)
            return kassa_fail(err, KASSA_ECORRUPT, "entry %u: index not contiguous", (unsigned)i);
        if (e->term < prev_term || e->term > m->term)
            return kassa_fail(err, KASSA_ECORRUPT, "entry %u: term out of order", (unsigned)i);
        if (e->type == 0 || e->type > RAFT_ENTRY_TYPE_MAX)
            return kassa_fail(err, KASSA_ECORRUPT, "entry %u: unknown type %u", (unsigned)i,
                              (unsigned)e->type);
        if (e->len > RAFT_ENTRY_DATA_MAX)
            return kassa_fail(err, KASSA_ECORRUPT, "entry %u: data too long", (unsigned)i);
        if (e->type == RAFT_ENTRY_NOOP && e->len != 0)
            return kassa_fail(err, KASSA_ECORRUPT, "entry %u: no-op with data", (unsigned)i);
        if (raft_entry_is_conf(e->type) &&
            raft_conf_data_decode(e->type, e->data, e->len, NULL, NULL, err) != KASSA_OK)
            return KASSA_ECORRUPT;
        prev_term = e->term;
    }
    return KASSA_OK;
}

static int check_snapshot(const raft_msg *m, kassa_err *err)
{
    const raft_snapshot_meta *s = m->snapshot;
    if (!s)
        return kassa_fail(err, KASSA_ECORRUPT, "MsgSnapshot without a snapshot");
    if (s->index == 0 || s->index >= RAFT_INDEX_MAX || s->term == 0 || s->term > m->term)
        return kassa_fail(err, KASSA_ECORRUPT, "snapshot index or term out of range");
    int rc = raft_conf_check(&s->conf, err);
    if (rc != KASSA_OK)
        return rc;
    if (s->conf.n == 0)
        return kassa_fail(err, KASSA_ECORRUPT, "snapshot without members");
    if (m->snapshot_len > RAFT_SNAPSHOT_MAX || (m->snapshot_len && !m->snapshot_data))
        return kassa_fail(err, KASSA_ECORRUPT, "snapshot data too long or missing");
    return KASSA_OK;
}

int raft_msg_check(const raft_msg *m, kassa_err *err)
{
    if (m->type == 0 || m->type > RAFT_MSG_TYPE_MAX)
        return kassa_fail(err, KASSA_ECORRUPT, "unknown message type %u", (unsigned)m->type);
    const char *name = raft_msg_type_name(m->type);
    if (!id_ok(m->from) || !id_ok(m->to))
        return kassa_fail(err, KASSA_ECORRUPT, "%s: bad node id", name);
    if (strcmp(m->from, m->to) == 0)
        return kassa_fail(err, KASSA_ECORRUPT, "%s: from itself", name);
    if (m->term >= RAFT_TERM_MAX || m->log_term > m->term || m->index >= RAFT_INDEX_MAX ||
        m->commit >= RAFT_INDEX_MAX || m->reject_hint >= RAFT_INDEX_MAX)
        return kassa_fail(err, KASSA_ECORRUPT, "%s: term or index out of range", name);
    unsigned f = fields_of(m->type);
    if ((!(f & F_LOG_TERM) && m->log_term) || (!(f & F_INDEX) && m->index) ||
        (!(f & F_COMMIT) && m->commit) || (!(f & F_REJECT) && m->reject) ||
        (!(f & F_HINT) && m->reject_hint) || (!(f & F_TRANSFER) && m->transfer) ||
        (!(f & F_SCORE) && m->has_score) || (!m->has_score && m->score) ||
        (!(f & F_ENTRIES) && (m->n_entries || m->entries)) ||
        (!(f & F_SNAPSHOT) && (m->snapshot || m->snapshot_data || m->snapshot_len)))
        return kassa_fail(err, KASSA_ECORRUPT, "%s: field not used by its type is set", name);
    if (m->type == RAFT_MSG_APP_RESP && !m->reject && (m->reject_hint || m->log_term))
        return kassa_fail(err, KASSA_ECORRUPT, "%s: hint without rejection", name);
    if (m->reject_hint > m->index)
        return kassa_fail(err, KASSA_ECORRUPT, "%s: hint past the rejected index", name);
    if (m->type == RAFT_MSG_PREVOTE && m->term == 0)
        return kassa_fail(err, KASSA_ECORRUPT, "%s: term 0", name);
    if ((m->type == RAFT_MSG_VOTE || m->type == RAFT_MSG_APP || m->type == RAFT_MSG_HEARTBEAT ||
         m->type == RAFT_MSG_SNAPSHOT || m->type == RAFT_MSG_TIMEOUT_NOW) &&
        m->term == 0)
        return kassa_fail(err, KASSA_ECORRUPT, "%s: term 0", name);
    int rc = check_entries(m, err);
    if (rc != KASSA_OK)
        return rc;
    if (m->type == RAFT_MSG_SNAPSHOT)
        return check_snapshot(m, err);
    return KASSA_OK;
}

int raft_msg_encode(const raft_msg *m, kbuf *b, kassa_err *err)
{
    int rc = raft_msg_check(m, err);
    if (rc != KASSA_OK)
        return rc;
    size_t start = b->len;
    uint8_t flags = (uint8_t)((m->reject ? FLAG_REJECT : 0) | (m->transfer ? FLAG_TRANSFER : 0) |
                              (m->has_score ? FLAG_SCORE : 0));
    kbuf_put_u8(b, RAFT_MSG_VERSION);
    kbuf_put_u8(b, m->type);
    kbuf_put_u8(b, flags);
    kbuf_put_uvarint(b, m->term);
    kbuf_put_uvarint(b, m->log_term);
    kbuf_put_uvarint(b, m->index);
    kbuf_put_uvarint(b, m->commit);
    kbuf_put_uvarint(b, m->reject_hint);
    kbuf_put_str(b, m->from);
    kbuf_put_str(b, m->to);
    if (m->has_score)
        kbuf_put_svarint(b, m->score);
    kbuf_put_uvarint(b, m->n_entries);
    uint64_t prev_term = m->log_term;
    for (uint32_t i = 0; i < m->n_entries; i++) {
        const raft_entry *e = &m->entries[i];
        kbuf_put_u8(b, e->type);
        kbuf_put_uvarint(b, e->term - prev_term);
        kbuf_put_bytes(b, e->data, e->len);
        prev_term = e->term;
    }
    if (m->type == RAFT_MSG_SNAPSHOT) {
        const raft_snapshot_meta *s = m->snapshot;
        kbuf_put_uvarint(b, s->index);
        kbuf_put_uvarint(b, s->term);
        kbuf_put_uvarint(b, s->conf.n);
        for (uint32_t i = 0; i < s->conf.n; i++)
            kbuf_put_str(b, s->conf.ids[i]);
        kbuf_put_bytes(b, m->snapshot_data, m->snapshot_len);
    }
    if (b->oom)
        return kassa_fail(err, KASSA_ENOMEM, "out of memory encoding a raft message");
    RAFT_ASSERT(b->len - start <= RAFT_MSG_ENCODED_MAX);
    return KASSA_OK;
}

static int bad(kassa_err *err, const char *what)
{
    return kassa_fail(err, KASSA_ECORRUPT, "raft message: %s", what);
}

static int decode(const uint8_t *p, size_t n, raft_msg *m, raft_msg_buf *buf, kassa_err *err)
{
    if (n > RAFT_MSG_ENCODED_MAX)
        return bad(err, "too long");
    kreader rd;
    kreader_init(&rd, p, n);
    uint8_t version, flags;
    if (!kreader_u8(&rd, &version) || version != RAFT_MSG_VERSION)
        return bad(err, "unknown version");
    if (!kreader_u8(&rd, &m->type) || m->type == 0 || m->type > RAFT_MSG_TYPE_MAX)
        return bad(err, "unknown type");
    if (!kreader_u8(&rd, &flags) || (flags & ~FLAGS_ALL))
        return bad(err, "unknown flags");
    m->reject = flags & FLAG_REJECT;
    m->transfer = flags & FLAG_TRANSFER;
    m->has_score = flags & FLAG_SCORE;
    if (!kreader_uvarint(&rd, &m->term) || !kreader_uvarint(&rd, &m->log_term) ||
        !kreader_uvarint(&rd, &m->index) || !kreader_uvarint(&rd, &m->commit) ||
        !kreader_uvarint(&rd, &m->reject_hint))
        return bad(err, "truncated header");
    if (m->term >= RAFT_TERM_MAX || m->log_term > m->term || m->index >= RAFT_INDEX_MAX)
        return bad(err, "term or index out of range");
    if (!kreader_str(&rd, m->from, sizeof m->from) || !kreader_str(&rd, m->to, sizeof m->to))
        return bad(err, "bad node id");
    if (m->has_score && !kreader_svarint(&rd, &m->score))
        return bad(err, "truncated score");
    uint64_t count;
    if (!kreader_uvarint(&rd, &count) || count > RAFT_MSG_ENTRIES_MAX)
        return bad(err, "too many entries");
    if (count && m->index + count >= RAFT_INDEX_MAX)
        return bad(err, "entry index too large");
    uint64_t prev_term = m->log_term;
    for (uint32_t i = 0; i < (uint32_t)count; i++) {
        raft_entry *e = &buf->entries[i];
        uint64_t dterm;
        const uint8_t *data;
        size_t len;
        if (!kreader_u8(&rd, &e->type) || !kreader_uvarint(&rd, &dterm) ||
            !kreader_bytes(&rd, RAFT_ENTRY_DATA_MAX, &data, &len))
            return bad(err, "truncated or oversized entry");
        if (dterm > m->term - prev_term)
            return bad(err, "entry term past the message term");
        e->term = prev_term + dterm;
        e->index = m->index + 1 + i;
        e->len = (uint16_t)len;
        if (len)
            memcpy(e->data, data, len);
        prev_term = e->term;
    }
    m->n_entries = (uint32_t)count;
    m->entries = count ? buf->entries : NULL;
    if (m->type == RAFT_MSG_SNAPSHOT) {
        raft_snapshot_meta *s = &buf->snapshot;
        memset(s, 0, sizeof *s);
        uint64_t members;
        if (!kreader_uvarint(&rd, &s->index) || !kreader_uvarint(&rd, &s->term) ||
            !kreader_uvarint(&rd, &members))
            return bad(err, "truncated snapshot");
        if (members == 0 || members > RAFT_MEMBERS_MAX)
            return bad(err, "bad snapshot member count");
        s->conf.n = (uint32_t)members;
        for (uint32_t i = 0; i < s->conf.n; i++)
            if (!kreader_str(&rd, s->conf.ids[i], sizeof s->conf.ids[i]))
                return bad(err, "bad snapshot member");
        const uint8_t *data;
        size_t len;
        if (!kreader_bytes(&rd, RAFT_SNAPSHOT_MAX, &data, &len))
            return bad(err, "truncated or oversized snapshot data");
        m->snapshot = s;
        m->snapshot_data = len ? data : NULL;
        m->snapshot_len = len;
    }
    if (kreader_left(&rd) != 0)
        return bad(err, "trailing bytes");
    return raft_msg_check(m, err);
}

int raft_msg_decode(const uint8_t *p, size_t n, raft_msg *m, raft_msg_buf *buf, kassa_err *err)
{
    memset(m, 0, sizeof *m);
    int rc = decode(p, n, m, buf, err);
    if (rc != KASSA_OK)
        memset(m, 0, sizeof *m);
    return rc;
}
