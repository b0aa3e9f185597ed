/*
 * cache.c: the import cache (term_internal.h says what it holds and when it
 * is on). Every table is bounded: a full one is written out and emptied,
 * which costs statements but never changes a result, because what it
 * writes is exactly what the uncached path would have written by then.
 */
#include "term/term_internal.h"

#include <stdlib.h>
#include <string.h>

/* Origins an import meets at once: a store's terminals, a few dozen. */
#define CACHE_ORIGINS_MAX 64
/* Distinct (SKU, origin) stock rows summed between two writes: a peer
 * link's batch of 4096 one-line sales fits, whatever the catalog. */
#define CACHE_STOCK_MAX 4096
/* Open addressing at most half full; a power of two. */
#define CACHE_STOCK_SLOTS 8192
/* New ops and sales rows are inserted this many per statement: one
 * statement's fixed cost shared by 32 rows, the b-tree cursor kept on the
 * page it appends to. */
#define CACHE_ROWS 32
/* Payload bytes of the ops rows held (a sale's is ~20 bytes); a payload
 * that does not fit is inserted on its own. */
#define CACHE_PAYLOAD_BYTES 16384

/* One row's parameters, CACHE_ROWS of them per statement (ROWS32). */
#define OPS_ROW "(?, ?, ?, ?, ?, ?)"
#define SALES_ROW "(?, ?, ?, ?)"
#define ROWS2(r) r ", " r
#define ROWS32(r) ROWS2(ROWS2(ROWS2(ROWS2(ROWS2(r)))))
#define OPS_INSERT "INSERT INTO ops(origin, seq, hlc, kind, payload, hash) VALUES"
#define SALES_INSERT "INSERT INTO sales(origin, seq, hlc, total) VALUES"

typedef struct cache_origin {
    int64_t id;
    uint32_t name_hash;
    char name[KASSA_ID_MAX + 1];
    bool head_loaded; /* head holds the chain head */
    bool head_dirty;  /* ... and differs from the origins row */
    bool drawer_dirty;
    term_head head;
    int64_t drawer_p, drawer_n; /* not written to drawer yet */
} cache_origin;

typedef struct cache_stock {
    int64_t origin;
    int64_t p, n; /* not written to stock yet */
    char sku[KASSA_SKU_MAX + 1];
} cache_stock;

typedef struct cache_op {
    int64_t origin;
    uint64_t seq;
    hlc_ts hlc;
    uint8_t kind;
    size_t payload_off, payload_len; /* in term_cache.payload */
    uint8_t hash[OPLOG_HASH_SIZE];
} cache_op;

typedef struct cache_sale {
    int64_t origin;
    uint64_t seq;
    hlc_ts hlc;
    int64_t total;
} cache_sale;

typedef struct term_cache {
    /* A failed write leaves rows half written: every later call fails too,
     * so the import cannot commit (its transaction rolls back). */
    int failed;
    size_t n_origins;
    size_t last; /* the origin found last: operations come in runs */
    cache_origin origins[CACHE_ORIGINS_MAX];
    size_t n_stock;
    uint16_t slot[CACHE_STOCK_SLOTS]; /* 0: empty, else index + 1 */
    cache_stock stock[CACHE_STOCK_MAX];
    /* Rows not inserted yet (the caller's payload is copied: it may not
     * live until the flush). */
    size_t n_ops, n_sales, payload_used;
    cache_op ops[CACHE_ROWS];
    cache_sale sales[CACHE_ROWS];
    uint8_t payload[CACHE_PAYLOAD_BYTES];
} term_cache;

_Static_assert(CACHE_STOCK_SLOTS >= 2 * CACHE_STOCK_MAX && CACHE_STOCK_MAX < UINT16_MAX &&
                   (CACHE_STOCK_SLOTS & (CACHE_STOCK_SLOTS - 1)) == 0,
               "stock table sizes");

static uint32_t fnv1a(uint32_t h, const char *s)
{
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        h = (h ^ *p) * 16777619u;
    return h;
}

static int failed(term_cache *c, kassa_err *err)
{
    return kassa_fail(err, c->failed, "import: an earlier write of cached rows failed");
}

/* Records a failed write (err holds its reason) and returns its code. */
static int fail_with(term_cache *c, int rc)
{
    c->failed = rc;
    return rc;
}

int term_cache_begin(term *t, kassa_err *err)
{
    if (t->work->cache_on)
        return kassa_fail(err, KASSA_EINVAL, "import cache already on");
    term_cache *c = t->work->cache;
    if (!c) {
        /* Once per terminal: it is reused by every later import. */
        c = calloc(1, sizeof *c);
        if (!c)
            return kassa_fail(err, KASSA_ENOMEM, "out of memory (import cache)");
        t->work->cache = c;
    }
    c->failed = KASSA_OK;
    c->n_ops = c->n_sales = c->payload_used = 0;
    c->n_origins = 0;
    c->last = 0;
    if (c->n_stock) {
        memset(c->slot, 0, sizeof c->slot);
        c->n_stock = 0;
    }
    t->work->cache_on = true;
    return KASSA_OK;
}

void term_cache_end(term *t)
{
    if (t->work)
        t->work->cache_on = false;
}

void term_cache_free(term *t)
{
    if (!t->work)
        return;
    free(t->work->cache);
    t->work->cache = NULL;
    t->work->cache_on = false;
}

/* ---- writing back ---- */

static int flush_origin(term *t, term_cache *c, cache_origin *o, bool drawers, kassa_err *err)
{
    int rc;
    if (o->head_dirty) {
        rc = term_origin_head_write(t, o->id, o->head.seq, o->head.hash, o->head.hlc, err);
        if (rc != KASSA_OK)
            return fail_with(c, rc);
        o->head_dirty = false;
    }
    if (drawers && o->drawer_dirty) {
        if ((rc = term_drawer_write(t, o->id, o->drawer_p, o->drawer_n, err)) != KASSA_OK)
            return fail_with(c, rc);
        o->drawer_dirty = false;
        o->drawer_p = o->drawer_n = 0;
    }
    return KASSA_OK;
}

static int flush_origins(term *t, term_cache *c, bool drawers, kassa_err *err)
{
    for (size_t i = 0; i < c->n_origins; i++) {
        int rc = flush_origin(t, c, &c->origins[i], drawers, err);
        if (rc != KASSA_OK)
            return rc;
    }
    return KASSA_OK;
}

static int flush_stock(term *t, term_cache *c, kassa_err *err)
{
    for (size_t i = 0; i < c->n_stock; i++) {
        const cache_stock *s = &c->stock[i];
        int rc = term_stock_write(t, s->sku, s->origin, s->p, s->n, err);
        if (rc != KASSA_OK)
            return fail_with(c, rc);
    }
    if (c->n_stock) {
        memset(c->slot, 0, sizeof c->slot);
        c->n_stock = 0;
    }
    return KASSA_OK;
}

static void bind_op_row(sqlite3_stmt *st, int first, const term_cache *c, const cache_op *o)
{
    sqlite3_bind_int64(st, first, o->origin);
    sqlite3_bind_int64(st, first + 1, (int64_t)o->seq);
    sqlite3_bind_int64(st, first + 2, (int64_t)o->hlc);
    sqlite3_bind_int(st, first + 3, o->kind);
    /* A zero-length blob must still be a blob, not NULL. */
    sqlite3_bind_blob(st, first + 4,
                      o->payload_len ? (const void *)(c->payload + o->payload_off) : "",
                      (int)o->payload_len, SQLITE_STATIC);
    sqlite3_bind_blob(st, first + 5, o->hash, OPLOG_HASH_SIZE, SQLITE_STATIC);
}

static void bind_sale_row(sqlite3_stmt *st, int first, const cache_sale *s)
{
    sqlite3_bind_int64(st, first, s->origin);
    sqlite3_bind_int64(st, first + 1, (int64_t)s->seq);
    sqlite3_bind_int64(st, first + 2, (int64_t)s->hlc);
    sqlite3_bind_int64(st, first + 3, s->total);
}

/* Inserts the held ops rows: all in one statement when there are
 * CACHE_ROWS, else one by one. */
static int flush_ops(term *t, term_cache *c, kassa_err *err)
{
    static const char ONE[] = OPS_INSERT OPS_ROW;
    static const char ALL[] = OPS_INSERT ROWS32(OPS_ROW);
    _Static_assert(CACHE_ROWS == 32, "ROWS32");
    size_t n = c->n_ops;
    for (size_t i = 0; i < n; i += n == CACHE_ROWS ? CACHE_ROWS : 1) {
        sqlite3_stmt *st = store_stmt(&t->st, n == CACHE_ROWS ? ALL : ONE, err);
        if (!st)
            return fail_with(c, err->code);
        for (size_t r = 0; r < (n == CACHE_ROWS ? CACHE_ROWS : 1); r++)
            bind_op_row(st, 1 + 6 * (int)r, c, &c->ops[i + r]);
        int rc = store_step_done(&t->st, st, "append operation", err);
        if (rc != KASSA_OK)
            return fail_with(c, rc);
    }
    c->n_ops = c->payload_used = 0;
    return KASSA_OK;
}

static int flush_sales(term *t, term_cache *c, kassa_err *err)
{
    static const char ONE[] = SALES_INSERT SALES_ROW;
    static const char ALL[] = SALES_INSERT ROWS32(SALES_ROW);
    size_t n = c->n_sales;
    for (size_t i = 0; i < n; i += n == CACHE_ROWS ? CACHE_ROWS : 1) {
        sqlite3_stmt *st = store_stmt(&t->st, n == CACHE_ROWS ? ALL : ONE, err);
        if (!st)
            return fail_with(c, err->code);
        for (size_t r = 0; r < (n == CACHE_ROWS ? CACHE_ROWS : 1); r++)
            bind_sale_row(st, 1 + 4 * (int)r, &c->sales[i + r]);
        int rc = store_step_done(&t->st, st, "sale", err);
        if (rc != KASSA_OK)
            return fail_with(c, rc);
    }
    c->n_sales = 0;
    return KASSA_OK;
}

int term_cache_flush_rows(term *t, kassa_err *err)
{
    if (!term_cache_is_on(t))
        return KASSA_OK;
    term_cache *c = t->work->cache;
    if (c->n_ops == 0 && c->n_sales == 0)
        return KASSA_OK;
    if (c->failed)
        return failed(c, err);
    int rc = flush_ops(t, c, err);
    return rc == KASSA_OK ? flush_sales(t, c, err) : rc;
}

int term_cache_flush_heads(term *t, kassa_err *err)
{
    if (!term_cache_is_on(t))
        return KASSA_OK;
    term_cache *c = t->work->cache;
    if (c->failed)
        return failed(c, err);
    return flush_origins(t, c, false, err);
}

int term_cache_flush(term *t, kassa_err *err)
{
    if (!term_cache_is_on(t))
        return KASSA_OK;
    term_cache *c = t->work->cache;
    if (c->failed)
        return failed(c, err);
    int rc = flush_origins(t, c, true, err);
    if (rc == KASSA_OK)
        rc = flush_stock(t, c, err);
    return rc == KASSA_OK ? term_cache_flush_rows(t, err) : rc;
}

/* ---- origins ---- */

static cache_origin *origin_by_id(term_cache *c, int64_t id)
{
    if (c->last < c->n_origins && c->origins[c->last].id == id)
        return &c->origins[c->last];
    for (size_t i = 0; i < c->n_origins; i++) {
        if (c->origins[i].id == id) {
            c->last = i;
            return &c->origins[i];
        }
    }
    return NULL;
}

/* A new entry; when the table is full, everything it holds back is
 * written first and it starts empty. */
static int origin_add(term *t, term_cache *c, int64_t id, const char *name, uint32_t hash,
                      cache_origin **out, kassa_err *err)
{
    if (c->n_origins == CACHE_ORIGINS_MAX) {
        int rc = flush_origins(t, c, true, err);
        if (rc != KASSA_OK)
            return rc;
        c->n_origins = 0;
    }
    cache_origin *o = &c->origins[c->n_origins];
    memset(o, 0, sizeof *o);
    o->id = id;
    o->name_hash = hash;
    memcpy(o->name, name, strlen(name) + 1);
    c->last = c->n_origins++;
    *out = o;
    return KASSA_OK;
}

int term_cache_origin_id(term *t, const char *name, bool create, int64_t *id, kassa_err *err)
{
    term_cache *c = t->work->cache;
    kassa_err local; /* callers that only want the code pass no err */
    if (!err)
        err = &local;
    if (c->failed)
        return failed(c, err);
    if (c->last < c->n_origins && strcmp(c->origins[c->last].name, name) == 0) {
        *id = c->origins[c->last].id;
        return KASSA_OK;
    }
    uint32_t hash = fnv1a(2166136261u, name);
    for (size_t i = 0; i < c->n_origins; i++) {
        if (c->origins[i].name_hash == hash && strcmp(c->origins[i].name, name) == 0) {
            c->last = i;
            *id = c->origins[i].id;
            return KASSA_OK;
        }
    }
    /* Unknown origins are not remembered: one created later in this
     * transaction is found in the database then. */
    int rc = term_origin_id_db(t, name, create, id, err);
    if (rc != KASSA_OK || strlen(name) > KASSA_ID_MAX) /* cannot be long: ids are checked */
        return rc;
    cache_origin *o;
    return origin_add(t, c, *id, name, hash, &o, err);
}

int term_cache_origin_head(term *t, int64_t origin_id, term_head *head, kassa_err *err)
{
    term_cache *c = t->work->cache;
    if (c->failed)
        return failed(c, err);
    cache_origin *o = origin_by_id(c, origin_id);
    if (o && o->head_loaded) {
        *head = o->head;
        return KASSA_OK;
    }
    int rc = term_origin_head_db(t, origin_id, head, err);
    if (rc != KASSA_OK || !o)
        return rc; /* an id not met by name here: read, not cached */
    o->head = *head;
    o->head_loaded = true;
    return KASSA_OK;
}

int term_cache_advance(term *t, int64_t origin_id, const oplog_op *op, kassa_err *err)
{
    term_cache *c = t->work->cache;
    if (c->failed)
        return failed(c, err);
    cache_origin *o = origin_by_id(c, origin_id);
    if (o && !o->head_loaded) {
        term_head h;
        int rc = term_cache_origin_head(t, origin_id, &h, err);
        if (rc != KASSA_OK)
            return rc;
    }
    if (!o)
        return term_origin_head_write(t, origin_id, op->seq, op->hash, op->hlc, err);
    /* What the UPDATE would do: seq and hash replaced, hlc the highest. */
    o->head.seq = op->seq;
    memcpy(o->head.hash, op->hash, OPLOG_HASH_SIZE);
    if (op->hlc > o->head.hlc)
        o->head.hlc = op->hlc;
    o->head_dirty = true;
    return KASSA_OK;
}

/* ---- counters ---- */

int term_cache_drawer_add(term *t, int64_t origin_id, int64_t p, int64_t n, kassa_err *err)
{
    term_cache *c = t->work->cache;
    if (c->failed)
        return failed(c, err);
    cache_origin *o = origin_by_id(c, origin_id);
    int64_t sp, sn;
    if (!o || !kassa_add_i64(o->drawer_p, p, &sp) || !kassa_add_i64(o->drawer_n, n, &sn)) {
        /* Not cached, or the sum would not fit: this one goes straight to
         * the row (sums commute: the order of the additions is free). */
        int rc = term_drawer_write(t, origin_id, p, n, err);
        return rc == KASSA_OK ? rc : fail_with(c, rc);
    }
    o->drawer_p = sp;
    o->drawer_n = sn;
    o->drawer_dirty = true;
    return KASSA_OK;
}

int term_cache_stock_add(term *t, const char *sku, int64_t origin_id, int64_t p, int64_t n,
                         kassa_err *err)
{
    term_cache *c = t->work->cache;
    if (c->failed)
        return failed(c, err);
    size_t len = strlen(sku);
    if (len > KASSA_SKU_MAX) { /* cannot be: SKUs are checked; then not cached */
        int rc = term_stock_write(t, sku, origin_id, p, n, err);
        return rc == KASSA_OK ? rc : fail_with(c, rc);
    }
    uint32_t mask = CACHE_STOCK_SLOTS - 1;
    uint32_t h = fnv1a(2166136261u, sku);
    h = (h ^ (uint32_t)origin_id ^ (uint32_t)((uint64_t)origin_id >> 32)) * 16777619u;
    uint32_t i = h & mask;
    for (; c->slot[i]; i = (i + 1) & mask) {
        cache_stock *s = &c->stock[c->slot[i] - 1];
        if (s->origin != origin_id || strcmp(s->sku, sku) != 0)
            continue;
        int64_t sp, sn;
        if (!kassa_add_i64(s->p, p, &sp) || !kassa_add_i64(s->n, n, &sn)) {
            int rc = term_stock_write(t, sku, origin_id, p, n, err);
            return rc == KASSA_OK ? rc : fail_with(c, rc);
        }
        s->p = sp;
        s->n = sn;
        return KASSA_OK;
    }
    if (c->n_stock == CACHE_STOCK_MAX) {
        int rc = flush_stock(t, c, err);
        if (rc != KASSA_OK)
            return rc;
        i = h & mask; /* the table is empty now */
    }
    cache_stock *s = &c->stock[c->n_stock];
    s->origin = origin_id;
    s->p = p;
    s->n = n;
    memcpy(s->sku, sku, len + 1);
    c->slot[i] = (uint16_t)(++c->n_stock);
    return KASSA_OK;
}

/* ---- new rows ---- */

int term_cache_op_insert(term *t, int64_t origin_id, const oplog_op *op, kassa_err *err)
{
    term_cache *c = t->work->cache;
    if (c->failed)
        return failed(c, err);
    int rc;
    if (c->n_ops == CACHE_ROWS || op->payload_len > CACHE_PAYLOAD_BYTES - c->payload_used) {
        if ((rc = flush_ops(t, c, err)) != KASSA_OK)
            return rc;
        if (op->payload_len > CACHE_PAYLOAD_BYTES) {
            rc = term_op_insert(t, origin_id, op, err);
            return rc == KASSA_OK ? rc : fail_with(c, rc);
        }
    }
    cache_op *o = &c->ops[c->n_ops++];
    o->origin = origin_id;
    o->seq = op->seq;
    o->hlc = op->hlc;
    o->kind = op->kind;
    o->payload_off = c->payload_used;
    o->payload_len = op->payload_len;
    if (op->payload_len)
        memcpy(c->payload + c->payload_used, op->payload, op->payload_len);
    c->payload_used += op->payload_len;
    memcpy(o->hash, op->hash, OPLOG_HASH_SIZE);
    return c->n_ops == CACHE_ROWS ? flush_ops(t, c, err) : KASSA_OK;
}

int term_cache_sale_insert(term *t, int64_t origin_id, const oplog_op *op, int64_t total,
                           kassa_err *err)
{
    term_cache *c = t->work->cache;
    if (c->failed)
        return failed(c, err);
    c->sales[c->n_sales++] =
        (cache_sale){.origin = origin_id, .seq = op->seq, .hlc = op->hlc, .total = total};
    return c->n_sales == CACHE_ROWS ? flush_sales(t, c, err) : KASSA_OK;
}
