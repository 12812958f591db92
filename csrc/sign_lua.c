/* core.sign{...}: checks a Lua request table, hands plain buffers to sign.c and
 * returns the signature with its parts. core.sign_for_sending{...} signs the same way and
 * returns only what the HTTP layer sends: headers, wire path, query string. A caller's
 * mistake raises the argument error naming the field, never a secret. Per Lua state, one
 * scratch userdata (both functions' upvalue) holds the hashing contexts, the result
 * buffers and the pair arrays, so a call allocates little. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "body_lua.h"
#include "class.h"
#include "compat.h"
#include "number.h"
#include "result.h"
#include "secret.h"
#include "sign.h"
#include "sign_lua.h"

#define WHERE_SIGN "cloud.core.sign"
#define WHERE_SEND "cloud.core.sign_for_sending"
#define STATE_MT "cloud.core.sign_state"
#define EXTRA_HEADERS 3 /* Host, X-Sdk-Date, X-Security-Token */

/* Option and result keys, interned once into the closure's second upvalue (an array
 * indexed by these numbers): looking them up by C string would intern them per call. */
enum { K_METHOD = 1, K_HOST, K_PATH, K_QUERY, K_HEADERS, K_BODY, K_AK, K_SK, K_DATE,
       K_SECURITY_TOKEN, K_NFIELDS = K_SECURITY_TOKEN,
       R_AUTHORIZATION, R_SIGNED_HEADERS, R_CANONICAL_REQUEST, R_STRING_TO_SIGN, R_QUERY_STRING,
       R_SIGNATURE, R_AUTHORIZATION_HEADER, K_COUNT = R_AUTHORIZATION_HEADER };
static const char *const KEYS[] = {NULL, "method", "host", "path", "query", "headers", "body",
                                   "ak", "sk", "date", "security_token", "authorization",
                                   "signed_headers", "canonical_request", "string_to_sign",
                                   "query_string", "signature", "Authorization"};
#define KEYS_UPVALUE lua_upvalueindex(2)
#define FIELDS_UPVALUE lua_upvalueindex(4) /* set of the option names */
#define WHERE_UPVALUE lua_upvalueindex(5) /* the function's name, for its errors */
/* The signer's own X-Sdk-Date header name: push_result finds it by pointer. */
static const char KEYS_X_SDK_DATE[] = "X-Sdk-Date";
/* X-Security-Token when its value is a secret: push_headers finds it by pointer and
 * hands on the secret, not its bytes. */
static const char KEYS_X_SECURITY_TOKEN_SECRET[] = "X-Security-Token";

static void push_key(lua_State *L, int k) { lua_rawgeti(L, KEYS_UPVALUE, k); }

/* opts[k] on the stack, raw: no metamethod runs. */
static int get_field(lua_State *L, int k) {
  push_key(L, k);
  lua_rawget(L, 1);
  return lua_type(L, -1);
}

/* Headers the signer sets itself; a caller giving one would sign it twice. */
static const char *const OWN_HEADERS[] = {"host", "x-sdk-date", "authorization", NULL};

typedef struct {
  sign_ctx *ctx;
  sign_result result;
  char now[17]; /* the date signed with, when the request has none */
  cpair *query;
  size_t query_cap;
  cpair *headers;
  size_t headers_cap;
} sign_state;

/* The scratch's __gc. */
static int sign_lua_scratch_gc(lua_State *L) {
  sign_state *st = result_checkudata(L, 1, STATE_MT, STATE_MT ":__gc", NULL);
  sign_ctx_free(st->ctx);
  sign_result_free(&st->result);
  free(st->query);
  free(st->headers);
  memset(st, 0, sizeof *st);
  return 0;
}

/* The name of the function called (core.sign or core.sign_for_sending), for its errors:
 * a literal, so the pointer outlives the call. */
static const char *where(lua_State *L) { return lua_touserdata(L, WHERE_UPVALUE); }

static cpair *pairs_room(lua_State *L, cpair **p, size_t *cap, size_t n) {
  if (n <= *cap) return *p;
  size_t want = n < 16 ? 16 : n;
  cpair *grown = realloc(*p, want * sizeof **p);
  if (!grown) luaL_error(L, "%s: out of memory", where(L));
  *p = grown;
  *cap = want;
  return grown;
}

/* Every key of the options table must be a known field. */
static void check_fields(lua_State *L) {
  lua_pushnil(L);
  while (lua_next(L, 1)) {
    lua_pop(L, 1);
    if (lua_type(L, -1) != LUA_TSTRING) result_argerror(L, where(L), NULL, "option names must be strings");
    lua_pushvalue(L, -1);
    lua_rawget(L, FIELDS_UPVALUE); /* a hash lookup of the interned name: no string compares */
    if (lua_isnil(L, -1)) result_argerror(L, where(L), lua_tostring(L, -2), "is unknown");
    lua_pop(L, 1);
  }
}

/* The string field k, or NULL when absent. */
static const char *opt_string(lua_State *L, int k, size_t *n, int required) {
  const char *name = KEYS[k];
  int t = get_field(L, k);
  const char *s = NULL;
  *n = 0;
  if (t == LUA_TSTRING) s = lua_tolstring(L, -1, n);
  lua_pop(L, 1); /* the options table keeps the string alive */
  if (t == LUA_TNIL && required) result_argerror(L, where(L), name, "is required");
  if (t != LUA_TNIL && t != LUA_TSTRING) result_argerror(L, where(L), name, "must be a string");
  return s;
}

/* The body: a string or a cloud.core.body (the options table keeps either alive). */
static cstr body_field(lua_State *L) {
  cstr s = {NULL, 0};
  int t = get_field(L, K_BODY);
  if (t != LUA_TNIL && !(s.p = body_lua_bytes(L, -1, &s.n)))
    result_argerror(L, where(L), "body", "must be a string or cloud.core.body");
  lua_pop(L, 1);
  return s;
}

static cstr need_string(lua_State *L, int k) {
  cstr s;
  s.p = opt_string(L, k, &s.n, 1);
  if (s.n == 0) result_argerror(L, where(L), KEYS[k], "must not be empty");
  return s;
}

/* The string form of the scalar at the top of the stack: 1, or 0 for another type, -1 for
 * NaN or an infinity (no request has a use for "nan"). Numbers are converted into a new
 * string anchored in `anchor` (created on first use) so its bytes stay alive. */
static int query_scalar(lua_State *L, int *anchor, cstr *out) {
  char num[32];
  long long v;
  switch (lua_type(L, -1)) {
    case LUA_TSTRING:
      out->p = lua_tolstring(L, -1, &out->n);
      return 1; /* kept alive by the query table */
    case LUA_TBOOLEAN:
      out->p = lua_toboolean(L, -1) ? "true" : "false";
      out->n = strlen(out->p);
      return 1;
    case LUA_TNUMBER:
      if (!number_is_finite((double)lua_tonumber(L, -1))) return -1;
      if (compat_tointegral(L, -1, &v)) snprintf(num, sizeof num, "%lld", v);
      else snprintf(num, sizeof num, "%.17g", (double)lua_tonumber(L, -1));
      if (!*anchor) {
        lua_newtable(L);
        lua_replace(L, 2); /* slot 2 was reserved for it */
        *anchor = 1;
      }
      lua_pushstring(L, num);
      out->p = lua_tolstring(L, -1, &out->n);
      lua_rawseti(L, 2, (lua_Integer)lua_rawlen(L, 2) + 1);
      return 1;
    default:
      return 0;
  }
}

/* Raises for the query value of `key`: its element i (from 1), or the value itself (0). */
static void query_error(lua_State *L, const char *key, size_t i, const char *problem) {
  if (i) lua_pushfstring(L, "query.%s[%d]", key, (int)i);
  else lua_pushfstring(L, "query.%s", key);
  result_argerror(L, where(L), lua_tostring(L, -1), "%s", problem);
}

/* Raises for the header `name`. */
static void header_error(lua_State *L, const char *name, const char *problem) {
  lua_pushfstring(L, "headers[\"%s\"]", name);
  result_argerror(L, where(L), lua_tostring(L, -1), "%s", problem);
}

/* Counts the values of an array-valued query key; raises when it is not an array. */
static size_t array_length(lua_State *L, int t, const char *key) {
  size_t n = lua_rawlen(L, t), count = 0;
  lua_pushnil(L);
  while (lua_next(L, t)) {
    count++;
    lua_pop(L, 1);
  }
  if (count != n) query_error(L, key, 0, "must be a scalar or an array");
  return n;
}

/* Flattens opts.query into st->query, one pair per value. Returns the count. */
static size_t collect_query(lua_State *L, sign_state *st) {
  get_field(L, K_QUERY);
  int q = lua_gettop(L);
  if (lua_isnil(L, q)) {
    lua_pop(L, 1);
    return 0;
  }
  if (!lua_istable(L, q)) result_argerror(L, where(L), "query", "must be a table");

  size_t total = 0;
  lua_pushnil(L);
  while (lua_next(L, q)) {
    if (lua_type(L, -2) != LUA_TSTRING) result_argerror(L, where(L), "query", "must have strings for keys");
    total += lua_istable(L, -1) ? array_length(L, lua_gettop(L), lua_tostring(L, -2)) : 1;
    lua_pop(L, 1);
  }
  cpair *pairs = pairs_room(L, &st->query, &st->query_cap, total);
  int anchor = 0;
  size_t k = 0;
  lua_pushnil(L);
  while (lua_next(L, q)) {
    int v = lua_gettop(L);
    cstr key;
    key.p = lua_tolstring(L, -2, &key.n);
    int is_array = lua_istable(L, v);
    size_t n = is_array ? lua_rawlen(L, v) : 1;
    for (size_t i = 1; i <= n; i++) {
      if (is_array) lua_rawgeti(L, v, (lua_Integer)i);
      else lua_pushvalue(L, v);
      int scalar = query_scalar(L, &anchor, &pairs[k].value);
      if (scalar < 0) query_error(L, key.p, is_array ? i : 0, "must be a finite number");
      if (scalar == 0)
        query_error(L, key.p, is_array ? i : 0,
                    is_array ? "must be a string, number or boolean"
                             : "must be a string, number, boolean or array of them");
      pairs[k++].name = key;
      lua_pop(L, 1);
    }
    lua_pop(L, 1);
  }
  lua_pop(L, 1); /* query */
  return k;
}

static int is_own_header(cstr name) {
  for (int i = 0; OWN_HEADERS[i]; i++)
    if (canon_name_is(name, OWN_HEADERS[i])) return 1;
  return 0;
}

/* Collects opts.headers into st->headers, leaving room for the ones the signer adds. */
static size_t collect_headers(lua_State *L, sign_state *st) {
  get_field(L, K_HEADERS);
  int h = lua_gettop(L);
  if (lua_isnil(L, h)) {
    lua_pop(L, 1);
    pairs_room(L, &st->headers, &st->headers_cap, EXTRA_HEADERS);
    return 0;
  }
  if (!lua_istable(L, h)) result_argerror(L, where(L), "headers", "must be a table");
  size_t n = 0;
  lua_pushnil(L);
  while (lua_next(L, h)) {
    n++;
    lua_pop(L, 1);
  }
  cpair *pairs = pairs_room(L, &st->headers, &st->headers_cap, n + EXTRA_HEADERS);
  size_t k = 0;
  lua_pushnil(L);
  while (lua_next(L, h)) {
    if (lua_type(L, -2) != LUA_TSTRING) result_argerror(L, where(L), "headers", "must have strings for names");
    if (lua_type(L, -1) != LUA_TSTRING) header_error(L, lua_tostring(L, -2), "must be a string");
    cstr name, value;
    name.p = lua_tolstring(L, -2, &name.n);
    value.p = lua_tolstring(L, -1, &value.n);
    if (!canon_is_token(name)) header_error(L, name.p, "is not a valid header name");
    if (is_own_header(name)) header_error(L, name.p, "is set by the signer; leave it out");
    if (!canon_is_field_value(value)) header_error(L, name.p, "contains CR, LF or NUL");
    pairs[k].name = name;
    pairs[k++].value = value; /* both kept alive by the headers table */
    lua_pop(L, 1);
  }
  lua_pop(L, 1); /* headers */
  return k;
}

static cstr lit(const char *s) {
  cstr c = {s, strlen(s)};
  return c;
}

static void set_field(lua_State *L, int t, int k, const char *p, size_t n) {
  push_key(L, k);
  lua_pushlstring(L, p, n);
  lua_rawset(L, t);
}

/* Sets t[key k] to the value at stack index v. */
static void set_value(lua_State *L, int t, int k, int v) {
  push_key(L, k);
  lua_pushvalue(L, v);
  lua_rawset(L, t);
}

/* Pushes the headers to send: the caller's, the signer's and Authorization (the string
 * at index auth). With res (not 0), the date used also goes into the table at res. */
static void push_headers(lua_State *L, const cpair *headers, size_t n, int auth, int res) {
  lua_createtable(L, 0, (int)n + 1);
  int h = lua_gettop(L);
  for (size_t i = 0; i < n; i++) {
    cstr v = canon_trim(headers[i].value);
    lua_pushlstring(L, headers[i].name.p, headers[i].name.n);
    if (headers[i].name.p == KEYS_X_SECURITY_TOKEN_SECRET) get_field(L, K_SECURITY_TOKEN);
    else lua_pushlstring(L, v.p, v.n);
    lua_rawset(L, h);
    if (res && headers[i].name.p == KEYS_X_SDK_DATE) { /* the date the signer used */
      push_key(L, K_DATE);
      lua_pushlstring(L, v.p, v.n);
      lua_rawset(L, res);
    }
  }
  set_value(L, h, R_AUTHORIZATION_HEADER, auth);
}

static void push_result(lua_State *L, const sign_result *r, const cpair *headers, size_t n) {
  lua_createtable(L, 0, 8);
  int res = lua_gettop(L);
  /* Authorization goes in twice: one string, not two. */
  lua_pushlstring(L, r->authorization.data, r->authorization.len);
  int auth = lua_gettop(L);
  set_value(L, res, R_AUTHORIZATION, auth);
  set_field(L, res, R_SIGNED_HEADERS, r->signed_headers.data, r->signed_headers.len);
  set_field(L, res, R_CANONICAL_REQUEST, r->canonical_request.data, r->canonical_request.len);
  set_field(L, res, R_STRING_TO_SIGN, r->string_to_sign.data, r->string_to_sign.len);
  set_field(L, res, R_QUERY_STRING, r->query_string.len ? r->query_string.data : "",
            r->query_string.len);
  set_field(L, res, R_SIGNATURE, r->signature, 64);
  push_headers(L, headers, n, auth, res);
  set_value(L, res, K_HEADERS, lua_gettop(L));
  lua_settop(L, res);
}

/* For sending only: headers, the path as it goes on the wire (the canonical URI, which
 * is percent-encoded, without the slash the canonical form adds) and the query string.
 * No result table and none of the intermediate strings: a stop makes two calls a batch. */
static int push_request(lua_State *L, const sign_result *r, const cpair *headers, size_t n, cstr path) {
  lua_pushlstring(L, r->authorization.data, r->authorization.len);
  push_headers(L, headers, n, lua_gettop(L), 0);
  const char *cr = r->canonical_request.data, *end = cr + r->canonical_request.len;
  const char *uri = memchr(cr, '\n', r->canonical_request.len);
  uri = uri ? uri + 1 : end;
  const char *eol = memchr(uri, '\n', (size_t)(end - uri));
  size_t len = (size_t)((eol ? eol : end) - uri);
  if (len > 0 && uri[len - 1] == '/' && path.p[path.n - 1] != '/') len--;
  lua_pushlstring(L, uri, len);
  lua_pushlstring(L, r->query_string.len ? r->query_string.data : "", r->query_string.len);
  return 3;
}

/* Checks the request table at 1 and signs it into st->result; q receives the request
 * (its headers with the signer's own), for the caller to push what it returns. */
static sign_state *sign_checked(lua_State *L, sign_request *q) {
  sign_state *st = lua_touserdata(L, lua_upvalueindex(1));
  if (lua_type(L, 1) != LUA_TTABLE)
    result_argerror(L, where(L), NULL, "expected a table of request fields, not %s", result_typename(L, 1));
  lua_settop(L, 1);
  lua_pushnil(L); /* slot 2: anchor for converted query numbers, made on demand */
  check_fields(L);

  memset(q, 0, sizeof *q);
  q->method = need_string(L, K_METHOD);
  if (!canon_is_token(q->method)) result_argerror(L, where(L), "method", "is not an HTTP method");
  q->host = need_string(L, K_HOST);
  for (size_t i = 0; i < q->host.n; i++) {
    unsigned char c = (unsigned char)q->host.p[i];
    if (c <= ' ' || c == '/' || c == 127) result_argerror(L, where(L), "host", "is not a host[:port]");
  }
  q->path.p = opt_string(L, K_PATH, &q->path.n, 1);
  if (q->path.n == 0 || q->path.p[0] != '/') result_argerror(L, where(L), "path", "must start with '/'");
  q->body = body_field(L);
  q->ak = need_string(L, K_AK);
  if (!canon_is_field_value(q->ak) || memchr(q->ak.p, ',', q->ak.n) || memchr(q->ak.p, ' ', q->ak.n))
    result_argerror(L, where(L), "ak", "has characters an access key cannot have");
  if (get_field(L, K_SK) == LUA_TNIL) result_argerror(L, where(L), "sk", "is required");
  q->sk = secret_check(L, lua_gettop(L), lua_upvalueindex(3), where(L), "sk", &q->key);
  lua_pop(L, 1); /* the options table keeps it alive */

  q->date.p = opt_string(L, K_DATE, &q->date.n, 0);
  if (!q->date.p) {
    sign_format_date((long long)time(NULL), st->now);
    q->date = lit(st->now);
  } else if (!sign_is_date(q->date)) {
    result_argerror(L, where(L), "date", "must look like 20261122T101500Z");
  }
  /* The token: a string, or a secret (temporary keys keep theirs in C memory; the headers
   * to send then carry the secret itself, and only the HTTP layer reads its bytes). */
  cstr token = {NULL, 0};
  int token_is_secret = 0;
  if (get_field(L, K_SECURITY_TOKEN) != LUA_TNIL) {
    const struct sign_key *unused;
    token_is_secret = lua_type(L, -1) != LUA_TSTRING;
    token = secret_check(L, lua_gettop(L), lua_upvalueindex(3), where(L), "security_token", &unused);
    if (!canon_is_field_value(token))
      result_argerror(L, where(L), "security_token", "must be a non-empty header value");
  }
  lua_pop(L, 1); /* the options table keeps it alive */

  q->nquery = collect_query(L, st);
  q->query = st->query;
  size_t n = collect_headers(L, st);
  q->headers = st->headers;
  q->headers[n].name = lit("Host");
  q->headers[n++].value = q->host;
  q->headers[n].name = lit(KEYS_X_SDK_DATE);
  q->headers[n++].value = q->date;
  if (token.p) {
    q->headers[n].name = lit(token_is_secret ? KEYS_X_SECURITY_TOKEN_SECRET : "X-Security-Token");
    q->headers[n++].value = token;
  }
  q->nheaders = n;

  size_t bad = 0;
  int rc = sign_request_sign(st->ctx, q, &st->result, &bad);
  if (rc == SIGN_EDUPHEADER) {
    lua_pushlstring(L, q->headers[bad].name.p, q->headers[bad].name.n);
    header_error(L, lua_tostring(L, -1), "is given twice (names are case-insensitive)");
  }
  if (rc == SIGN_ENOMEM) luaL_error(L, "%s: out of memory", where(L));
  if (rc != SIGN_OK) luaL_error(L, "%s: the crypto library failed", where(L));
  return st;
}

/* core.sign(req) -> signature: the signature and its parts. */
static int sign_lua_sign(lua_State *L) {
  sign_request q;
  sign_state *st = sign_checked(L, &q);
  push_result(L, &st->result, q.headers, q.nheaders);
  return 1;
}

/* core.sign_for_sending(req) -> headers, wire path, query string: what the client sends. */
static int sign_lua_sign_for_sending(lua_State *L) {
  sign_request q;
  sign_state *st = sign_checked(L, &q);
  return push_request(L, &st->result, q.headers, q.nheaders, q.path);
}

void sign_lua_register(lua_State *L, int core) {
  static const luaL_Reg meta[] = {{"__gc", sign_lua_scratch_gc}, {NULL, NULL}};
  static const luaL_Reg none[] = {{NULL, NULL}};
  class_metatable(L, STATE_MT, meta, none);
  lua_pop(L, 1);
  sign_state *st = lua_newuserdata(L, sizeof *st); /* userdata first, then the resources */
  memset(st, 0, sizeof *st);
  luaL_setmetatable(L, STATE_MT);
  st->ctx = sign_ctx_new();
  if (!st->ctx) luaL_error(L, WHERE_SIGN ": OpenSSL has no SHA-256/HMAC");
  lua_createtable(L, K_COUNT, 0);
  for (int k = 1; k <= K_COUNT; k++) {
    lua_pushstring(L, KEYS[k]);
    lua_rawseti(L, -2, k);
  }
  secret_push_metatable(L);
  lua_createtable(L, 0, K_NFIELDS);
  for (int k = 1; k <= K_NFIELDS; k++) {
    lua_pushboolean(L, 1);
    lua_setfield(L, -2, KEYS[k]);
  }
  /* Both functions close over the same four upvalues, and a fifth: their own name. */
  for (int i = 0; i < 4; i++) lua_pushvalue(L, -4);
  lua_pushlightuserdata(L, (void *)WHERE_SEND);
  lua_pushcclosure(L, sign_lua_sign_for_sending, 5);
  lua_setfield(L, core, "sign_for_sending");
  lua_pushlightuserdata(L, (void *)WHERE_SIGN);
  lua_pushcclosure(L, sign_lua_sign, 5);
  lua_setfield(L, core, "sign");
}
