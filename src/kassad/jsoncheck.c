/* jsoncheck.c: the schema walker. */
#include "kassad/jsoncheck.h"

#include <stdio.h>
#include <string.h>

/* Field paths in messages: "lines[2].qty". */
#define PATH_SIZE 128

static const char *type_name(kd_type t)
{
    switch (t) {
    case KD_T_STRING:
        return "a string";
    case KD_T_INT:
        return "an integer";
    case KD_T_OBJECT:
        return "an object";
    case KD_T_ARRAY:
        return "an array";
    }
    return "a value";
}

static int check_object(const json_t *v, const kd_schema *s, const char *path, kassa_err *err);

static int check_field(const json_t *v, const kd_field *f, const char *path, kassa_err *err)
{
    switch (f->type) {
    case KD_T_STRING:
        if (json_is_string(v)) {
            size_t n = json_string_length(v);
            /* jansson refuses \u0000 by default; checked again so a
             * string is always a whole C string. */
            if (strlen(json_string_value(v)) != n)
                return kassa_fail(err, KASSA_EINVAL, "%s: contains a NUL character", path);
            if ((int64_t)n < f->min || (int64_t)n > f->max)
                return kassa_fail(err, KASSA_EINVAL, "%s: expected %lld..%lld bytes", path,
                                  (long long)f->min, (long long)f->max);
            return KASSA_OK;
        }
        break;
    case KD_T_INT:
        if (json_is_integer(v)) {
            json_int_t n = json_integer_value(v);
            if (n < f->min || n > f->max)
                return kassa_fail(err, KASSA_EINVAL, "%s: expected an integer %lld..%lld", path,
                                  (long long)f->min, (long long)f->max);
            return KASSA_OK;
        }
        break;
    case KD_T_OBJECT:
        if (json_is_object(v))
            return check_object(v, f->sub, path, err);
        break;
    case KD_T_ARRAY:
        if (json_is_array(v)) {
            size_t n = json_array_size(v);
            if ((int64_t)n < f->min || (int64_t)n > f->max)
                return kassa_fail(err, KASSA_EINVAL, "%s: expected %lld..%lld items", path,
                                  (long long)f->min, (long long)f->max);
            for (size_t i = 0; i < n; i++) {
                char item[PATH_SIZE];
                snprintf(item, sizeof item, "%.100s[%zu]", path, i);
                const json_t *it = json_array_get(v, i);
                if (!json_is_object(it))
                    return kassa_fail(err, KASSA_EINVAL, "%s: expected an object", item);
                int rc = check_object(it, f->sub, item, err);
                if (rc != KASSA_OK)
                    return rc;
            }
            return KASSA_OK;
        }
        break;
    }
    return kassa_fail(err, KASSA_EINVAL, "%s: expected %s", path, type_name(f->type));
}

static const kd_field *find_field(const kd_schema *s, const char *name)
{
    for (size_t i = 0; i < s->n_fields; i++)
        if (strcmp(s->fields[i].name, name) == 0)
            return &s->fields[i];
    return NULL;
}

static void join(char *out, const char *path, const char *name)
{
    if (path[0])
        snprintf(out, PATH_SIZE, "%s.%.64s", path, name);
    else
        snprintf(out, PATH_SIZE, "%.64s", name);
}

static int check_object(const json_t *v, const kd_schema *s, const char *path, kassa_err *err)
{
    const char *key;
    const json_t *val;
    char sub[PATH_SIZE];
    json_object_foreach((json_t *)v, key, val)
    {
        const kd_field *f = find_field(s, key);
        join(sub, path, key);
        if (!f)
            return kassa_fail(err, KASSA_EINVAL, "unknown field \"%s\"", sub);
        int rc = check_field(val, f, sub, err);
        if (rc != KASSA_OK)
            return rc;
    }
    for (size_t i = 0; i < s->n_fields; i++) {
        if (s->fields[i].required && !json_object_get(v, s->fields[i].name)) {
            join(sub, path, s->fields[i].name);
            return kassa_fail(err, KASSA_EINVAL, "missing field \"%s\"", sub);
        }
    }
    return KASSA_OK;
}

int kd_json_check(const json_t *v, const kd_schema *schema, kassa_err *err)
{
    if (!json_is_object(v))
        return kassa_fail(err, KASSA_EINVAL, "the body must be a JSON object");
    return check_object(v, schema, "", err);
}

const char *kd_json_str(const json_t *obj, const char *key)
{
    return json_string_value(json_object_get(obj, key));
}

bool kd_json_int(const json_t *obj, const char *key, int64_t *out)
{
    const json_t *v = json_object_get(obj, key);
    if (!json_is_integer(v))
        return false;
    *out = json_integer_value(v);
    return true;
}
