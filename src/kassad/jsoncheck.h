/*
 * jsoncheck: strict validation of JSON request bodies against a small
 * declarative schema, so handlers read fields they know are present and
 * well-typed. Checked: the value is an object, no field outside the
 * schema (additionalProperties: false), every required field present,
 * each field's JSON type (an integer field refuses 1.0 and "1"), integer
 * ranges, string and array lengths, and nested objects and array items
 * against their own schemas.
 */
#ifndef KASSAD_JSONCHECK_H
#define KASSAD_JSONCHECK_H

#include "base/base.h"

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum {
    KD_T_STRING, /* min..max bytes */
    KD_T_INT,    /* min..max value */
    KD_T_OBJECT, /* checked against sub */
    KD_T_ARRAY,  /* min..max items, each an object checked against sub */
} kd_type;

typedef struct kd_schema kd_schema;

typedef struct kd_field {
    const char *name;
    kd_type type;
    bool required;
    int64_t min, max;
    const kd_schema *sub;
} kd_field;

struct kd_schema {
    const kd_field *fields;
    size_t n_fields;
};

/* A string field the contract puts no length on: the body size limit
 * bounds it, and the terminal judges the value (an unknown id is 401 or
 * 404, not a malformed request). */
#define KD_ANY_LENGTH 0, INT64_MAX

#define KD_SCHEMA(fields)                                                                          \
    {                                                                                              \
        fields, sizeof(fields) / sizeof((fields)[0])                                               \
    }

/* Validates v; on failure err says which field and why (KASSA_EINVAL). */
int kd_json_check(const json_t *v, const kd_schema *schema, kassa_err *err);

/* Readers for fields kd_json_check accepted (absent: NULL / false). */
const char *kd_json_str(const json_t *obj, const char *key);
bool kd_json_int(const json_t *obj, const char *key, int64_t *out);

#endif
