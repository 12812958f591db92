/* core.sign{...}: checks a Lua request table, hands plain buffers to sign.c and
 * returns the signature with its parts. core.sign({...}, true) returns only what the
 * HTTP layer sends: headers, wire path, query string. Errors name the field, never a secret.
 * Per Lua state, one scratch userdata (the function's upvalue) holds the hashing
 * contexts, the result buffers and the pair arrays, so a call allocates little. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "body_lua.h"
#include "compat.h"
#include "number.h"
#include "secret.h"
#include "sign.h"
#include "sign_lua.h"

#define WHERE "cloud.core.sign"
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
  cpair *query;
  size_t query_cap;
  cpair *headers;
  size_t headers_cap;
} sign_state;

static int state_gc(lua_State *L) {
  sign_state *st = luaL_checkudata(L, 1, STATE_MT);
  sign_ctx_free(st->ctx);
  sign_result_free(&st->result);
  free(st->query);
  free(st->headers);
  memset(st, 0, sizeof *st);
  return 0;
}

static cpair *pairs_room(lua_State *L, cpair **p, size_t *cap, size_t n) {
  if (n <= *cap) return *p;
  size_t want = n < 16 ? 16 : n;
  cpair *grown = realloc(*p, want * sizeof **p);
  if (!grown) luaL_error(L, WHERE ": out of memory");
  *p = grown;
  *cap = want;
  return grown;
}

/* Every key of the options table must be a known field. */
static void check_fields(lua_State *L) {
  lua_pushnil(L);
  while (lua_next(L, 1)) {
    lua_pop(L, 1);
    if (lua_type(L, -1) != LUA_TSTRING) luaL_error(L, WHERE ": field names must be strings");
    lua_pushvalue(L, -1);
    lua_rawget(L, FIELDS_UPVALUE); /* a hash lookup of the interned name: no string compares */
    if (lua_isnil(L, -1)) luaL_error(L, WHERE ": unknown field '%s'", lua_tostring(L, -2));
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
  if (t == LUA_TNIL && required) luaL_error(L, WHERE ": field '%s' is required", name);
  if (t != LUA_TNIL && t != LUA_TSTRING) luaL_error(L, WHERE ": field '%s' must be a string", name);
  return s;
}

/* The body: a string or a cloud.core.body (the options table keeps either alive). */
static cstr body_field(lua_State *L) {
  cstr s = {NULL, 0};
  int t = get_field(L, K_BODY);
  if (t != LUA_TNIL && !(s.p = body_lua_bytes(L, -1, &s.n)))
    luaL_error(L, WHERE ": field 'body' must be a string or cloud.core.body");
  lua_pop(L, 1);
  return s;
}

static cstr need_string(lua_State *L, int k) {
  cstr s;
  s.p = opt_string(L, k, &s.n, 1);
  if (s.n == 0) luaL_error(L, WHERE ": field '%s' must not be empty", KEYS[k]);
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

/* Counts the values of an array-valued query key; raises when it is not an array. */
static size_t array_length(lua_State *L, int t, const char *key) {
  size_t n = lua_rawlen(L, t), count = 0;
  lua_pushnil(L);
  while (lua_next(L, t)) {
    count++;
    lua_pop(L, 1);
  }
  if (count != n) luaL_error(L, WHERE ": query.%s must be a scalar or an array", key);
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
  if (!lua_istable(L, q)) luaL_error(L, WHERE ": field 'query' must be a table");

  size_t total = 0;
  lua_pushnil(L);
  while (lua_next(L, q)) {
    if (lua_type(L, -2) != LUA_TSTRING) luaL_error(L, WHERE ": query keys must be strings");
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
      if (scalar < 0) {
        if (is_array) luaL_error(L, WHERE ": query.%s[%d] must be a finite number", key.p, (int)i);
        luaL_error(L, WHERE ": query.%s must be a finite number", key.p);
      }
      if (scalar == 0) {
        if (is_array)
          luaL_error(L, WHERE ": query.%s[%d] must be a string, number or boolean", key.p, (int)i);
        luaL_error(L, WHERE ": query.%s must be a string, number, boolean or array of them", key.p);
      }
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
  if (!lua_istable(L, h)) luaL_error(L, WHERE ": field 'headers' must be a table");
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
    if (lua_type(L, -2) != LUA_TSTRING) luaL_error(L, WHERE ": header names must be strings");
    if (lua_type(L, -1) != LUA_TSTRING)
      luaL_error(L, WHERE ": headers['%s'] must be a string", lua_tostring(L, -2));
    cstr name, value;
    name.p = lua_tolstring(L, -2, &name.n);
    value.p = lua_tolstring(L, -1, &value.n);
    if (!canon_is_token(name))
      luaL_error(L, WHERE ": headers: name '%s' is not a valid header name", name.p);
    if (is_own_header(name))
      luaL_error(L, WHERE ": headers['%s'] is set by the signer; leave it out", name.p);
    if (!canon_is_field_value(value))
      luaL_error(L, WHERE ": headers['%s'] contains CR, LF or NUL", name.p);
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

static int sign_lua(lua_State *L) {
  sign_state *st = lua_touserdata(L, lua_upvalueindex(1));
  luaL_checktype(L, 1, LUA_TTABLE);
  int for_sending = lua_toboolean(L, 2);
  lua_settop(L, 1);
  lua_pushnil(L); /* slot 2: anchor for converted query numbers, made on demand */
  check_fields(L);

  sign_request q;
  memset(&q, 0, sizeof q);
  q.method = need_string(L, K_METHOD);
  if (!canon_is_token(q.method)) luaL_error(L, WHERE ": field 'method' is not an HTTP method");
  q.host = need_string(L, K_HOST);
  for (size_t i = 0; i < q.host.n; i++) {
    unsigned char c = (unsigned char)q.host.p[i];
    if (c <= ' ' || c == '/' || c == 127) luaL_error(L, WHERE ": field 'host' is not a host[:port]");
  }
  q.path.p = opt_string(L, K_PATH, &q.path.n, 1);
  if (q.path.n == 0 || q.path.p[0] != '/') luaL_error(L, WHERE ": field 'path' must start with '/'");
  q.body = body_field(L);
  q.ak = need_string(L, K_AK);
  if (!canon_is_field_value(q.ak) || memchr(q.ak.p, ',', q.ak.n) || memchr(q.ak.p, ' ', q.ak.n))
    luaL_error(L, WHERE ": field 'ak' has characters an access key cannot have");
  if (get_field(L, K_SK) == LUA_TNIL) luaL_error(L, WHERE ": field 'sk' is required");
  q.sk = secret_check(L, lua_gettop(L), lua_upvalueindex(3), WHERE, "sk", &q.key);
  lua_pop(L, 1); /* the options table keeps it alive */

  char now[17];
  q.date.p = opt_string(L, K_DATE, &q.date.n, 0);
  if (!q.date.p) {
    sign_format_date((long long)time(NULL), now);
    q.date = lit(now);
  } else if (!sign_is_date(q.date)) {
    luaL_error(L, WHERE ": field 'date' must look like 20261122T101500Z");
  }
  /* The token: a string, or a secret (temporary keys keep theirs in C memory; the headers
   * to send then carry the secret itself, and only the HTTP layer reads its bytes). */
  cstr token = {NULL, 0};
  int token_is_secret = 0;
  if (get_field(L, K_SECURITY_TOKEN) != LUA_TNIL) {
    const struct sign_key *unused;
    token_is_secret = lua_type(L, -1) != LUA_TSTRING;
    token = secret_check(L, lua_gettop(L), lua_upvalueindex(3), WHERE, "security_token", &unused);
    if (!canon_is_field_value(token))
      luaL_error(L, WHERE ": field 'security_token' must be a non-empty header value");
  }
  lua_pop(L, 1); /* the options table keeps it alive */

  q.nquery = collect_query(L, st);
  q.query = st->query;
  size_t n = collect_headers(L, st);
  q.headers = st->headers;
  q.headers[n].name = lit("Host");
  q.headers[n++].value = q.host;
  q.headers[n].name = lit(KEYS_X_SDK_DATE);
  q.headers[n++].value = q.date;
  if (token.p) {
    q.headers[n].name = lit(token_is_secret ? KEYS_X_SECURITY_TOKEN_SECRET : "X-Security-Token");
    q.headers[n++].value = token;
  }
  q.nheaders = n;

  size_t bad = 0;
  int rc = sign_request_sign(st->ctx, &q, &st->result, &bad);
  if (rc == SIGN_EDUPHEADER) {
    lua_pushlstring(L, q.headers[bad].name.p, q.headers[bad].name.n);
    luaL_error(L, WHERE ": headers: '%s' is given twice (names are case-insensitive)",
               lua_tostring(L, -1));
  }
  if (rc == SIGN_ENOMEM) luaL_error(L, WHERE ": out of memory");
  if (rc != SIGN_OK) luaL_error(L, WHERE ": the crypto library failed");
  if (for_sending) return push_request(L, &st->result, q.headers, q.nheaders, q.path);
  push_result(L, &st->result, q.headers, q.nheaders);
  return 1;
}

void sign_lua_push(lua_State *L) {
  sign_state *st = lua_newuserdata(L, sizeof *st); /* userdata first, then the resources */
  memset(st, 0, sizeof *st);
  if (luaL_newmetatable(L, STATE_MT)) {
    lua_pushcfunction(L, state_gc);
    lua_setfield(L, -2, "__gc");
  }
  lua_setmetatable(L, -2);
  st->ctx = sign_ctx_new();
  if (!st->ctx) luaL_error(L, WHERE ": OpenSSL has no SHA-256/HMAC");
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
  lua_pushcclosure(L, sign_lua, 4);
}
