/* core.sign{...}: checks a Lua request table, hands plain buffers to sign.c and
 * returns what the HTTP layer sends. Errors name the field, never a secret. */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "compat.h"
#include "secret.h"
#include "sign.h"
#include "sign_lua.h"

#define WHERE "cloud.core.sign"
#define RESULT_MT "cloud.core.sign_result"

static const char *const FIELDS[] = {"method", "host", "path", "query", "headers", "body",
                                     "ak", "sk", "date", "security_token", NULL};

/* Headers the signer sets itself; a caller giving one would sign it twice. */
static const char *const OWN_HEADERS[] = {"host", "x-sdk-date", "authorization", NULL};

static int result_gc(lua_State *L) {
  sign_result_free(luaL_checkudata(L, 1, RESULT_MT));
  return 0;
}

static void check_fields(lua_State *L) {
  lua_pushnil(L);
  while (lua_next(L, 1)) {
    int known = 0;
    if (lua_type(L, -2) == LUA_TSTRING) {
      const char *k = lua_tostring(L, -2);
      for (int i = 0; FIELDS[i]; i++) known |= strcmp(k, FIELDS[i]) == 0;
      if (!known) luaL_error(L, WHERE ": unknown field '%s'", k);
    } else {
      luaL_error(L, WHERE ": field names must be strings");
    }
    lua_pop(L, 1);
  }
}

/* The string field `name` of the options table, or NULL when absent and optional. */
static const char *opt_string(lua_State *L, const char *name, size_t *n, int required) {
  lua_getfield(L, 1, name);
  int t = lua_type(L, -1);
  lua_pop(L, 1); /* the table keeps the string alive */
  if (t == LUA_TNIL) {
    if (required) luaL_error(L, WHERE ": field '%s' is required", name);
    *n = 0;
    return NULL;
  }
  if (t != LUA_TSTRING) luaL_error(L, WHERE ": field '%s' must be a string", name);
  lua_getfield(L, 1, name);
  const char *s = lua_tolstring(L, -1, n);
  lua_pop(L, 1);
  return s;
}

static cstr need_string(lua_State *L, const char *name) {
  cstr s;
  s.p = opt_string(L, name, &s.n, 1);
  if (s.n == 0) luaL_error(L, WHERE ": field '%s' must not be empty", name);
  return s;
}

/* Anchors a converted string in the table at `anchor` so its bytes outlive the stack slot. */
static cstr anchored(lua_State *L, int anchor) {
  cstr s;
  s.p = lua_tolstring(L, -1, &s.n);
  lua_rawseti(L, anchor, (int)lua_rawlen(L, anchor) + 1);
  return s;
}

/* Converts the scalar query value on top of the stack to its string form. */
static int push_query_scalar(lua_State *L) {
  char num[32];
  long long v;
  switch (lua_type(L, -1)) {
    case LUA_TSTRING:
      lua_pushvalue(L, -1);
      return 1;
    case LUA_TBOOLEAN:
      lua_pushstring(L, lua_toboolean(L, -1) ? "true" : "false");
      return 1;
    case LUA_TNUMBER:
      if (compat_tointegral(L, -1, &v)) {
        snprintf(num, sizeof num, "%lld", v);
      } else {
        snprintf(num, sizeof num, "%.17g", (double)lua_tonumber(L, -1));
      }
      lua_pushstring(L, num);
      return 1;
    default:
      return 0;
  }
}

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

/* Flattens opts.query into pairs, one per value. Returns the count. */
static size_t collect_query(lua_State *L, int anchor, cpair **out) {
  lua_getfield(L, 1, "query");
  int q = lua_gettop(L);
  *out = NULL;
  if (lua_isnil(L, q)) return 0;
  if (!lua_istable(L, q)) luaL_error(L, WHERE ": field 'query' must be a table");

  size_t total = 0;
  lua_pushnil(L);
  while (lua_next(L, q)) {
    if (lua_type(L, -2) != LUA_TSTRING) luaL_error(L, WHERE ": query keys must be strings");
    total += lua_istable(L, -1) ? array_length(L, lua_gettop(L), lua_tostring(L, -2)) : 1;
    lua_pop(L, 1);
  }
  if (total == 0) return 0;
  cpair *pairs = lua_newuserdata(L, total * sizeof *pairs); /* collected with the call */
  lua_rawseti(L, anchor, (int)lua_rawlen(L, anchor) + 1);

  size_t k = 0;
  lua_pushnil(L);
  while (lua_next(L, q)) {
    int v = lua_gettop(L);
    lua_pushvalue(L, -2);
    cstr key = anchored(L, anchor);
    size_t n = lua_istable(L, v) ? lua_rawlen(L, v) : 1;
    for (size_t i = 1; i <= n; i++) {
      if (lua_istable(L, v)) lua_rawgeti(L, v, (int)i);
      else lua_pushvalue(L, v);
      if (!push_query_scalar(L)) {
        if (lua_istable(L, v))
          luaL_error(L, WHERE ": query.%s[%d] must be a string, number or boolean", key.p, (int)i);
        luaL_error(L, WHERE ": query.%s must be a string, number, boolean or array of them",
                   key.p);
      }
      pairs[k].name = key;
      pairs[k].value = anchored(L, anchor);
      k++;
      lua_pop(L, 1);
    }
    lua_pop(L, 1);
  }
  lua_pop(L, 1); /* query */
  *out = pairs;
  return k;
}

static int is_own_header(cstr name) {
  for (int i = 0; OWN_HEADERS[i]; i++) {
    size_t n = strlen(OWN_HEADERS[i]);
    if (name.n == n && strncasecmp(name.p, OWN_HEADERS[i], n) == 0) return 1;
  }
  return 0;
}

/* Collects opts.headers plus room for the `extra` headers the signer adds. */
static size_t collect_headers(lua_State *L, int anchor, size_t extra, cpair **out) {
  lua_getfield(L, 1, "headers");
  int h = lua_gettop(L);
  if (!lua_isnil(L, h) && !lua_istable(L, h))
    luaL_error(L, WHERE ": field 'headers' must be a table");
  size_t n = 0;
  if (!lua_isnil(L, h)) {
    lua_pushnil(L);
    while (lua_next(L, h)) {
      n++;
      lua_pop(L, 1);
    }
  }
  cpair *pairs = lua_newuserdata(L, (n + extra) * sizeof *pairs);
  lua_rawseti(L, anchor, (int)lua_rawlen(L, anchor) + 1);

  size_t k = 0;
  if (!lua_isnil(L, h)) {
    lua_pushnil(L);
    while (lua_next(L, h)) {
      if (lua_type(L, -2) != LUA_TSTRING) luaL_error(L, WHERE ": header names must be strings");
      cstr name;
      name.p = lua_tolstring(L, -2, &name.n);
      if (!canon_is_token(name))
        luaL_error(L, WHERE ": headers: name '%s' is not a valid header name", name.p);
      if (is_own_header(name))
        luaL_error(L, WHERE ": headers['%s'] is set by the signer; leave it out", name.p);
      int t = lua_type(L, -1);
      if (t != LUA_TSTRING && t != LUA_TNUMBER)
        luaL_error(L, WHERE ": headers['%s'] must be a string", name.p);
      lua_pushvalue(L, -1);
      cstr value = anchored(L, anchor);
      if (!canon_is_field_value(value))
        luaL_error(L, WHERE ": headers['%s'] contains CR, LF or NUL", name.p);
      pairs[k].name = name;
      pairs[k].value = value;
      k++;
      lua_pop(L, 1);
    }
  }
  lua_pop(L, 1); /* headers */
  *out = pairs;
  return k;
}

static cstr lit(const char *s) {
  cstr c = {s, strlen(s)};
  return c;
}

static void set_field(lua_State *L, const char *name, const char *p, size_t n) {
  lua_pushlstring(L, p, n);
  lua_setfield(L, -2, name);
}

static void push_result(lua_State *L, const sign_result *r, const cpair *headers, size_t n,
                        cstr date) {
  lua_createtable(L, 0, 9);
  set_field(L, "authorization", r->authorization.data, r->authorization.len);
  set_field(L, "signed_headers", r->signed_headers.data, r->signed_headers.len);
  set_field(L, "canonical_request", r->canonical_request.data, r->canonical_request.len);
  set_field(L, "string_to_sign", r->string_to_sign.data, r->string_to_sign.len);
  set_field(L, "query_string", r->query_string.len ? r->query_string.data : "",
            r->query_string.len);
  set_field(L, "signature", r->signature, 64);
  set_field(L, "date", date.p, date.n);

  lua_createtable(L, 0, (int)n + 1);
  for (size_t i = 0; i < n; i++) {
    cstr v = canon_trim(headers[i].value);
    lua_pushlstring(L, headers[i].name.p, headers[i].name.n);
    lua_pushlstring(L, v.p, v.n);
    lua_rawset(L, -3);
  }
  set_field(L, "Authorization", r->authorization.data, r->authorization.len);
  lua_setfield(L, -2, "headers");
}

int sign_lua(lua_State *L) {
  luaL_checktype(L, 1, LUA_TTABLE);
  lua_settop(L, 1);
  check_fields(L);
  lua_newtable(L); /* anchor for converted strings and scratch arrays */
  int anchor = lua_gettop(L);

  sign_request q;
  memset(&q, 0, sizeof q);
  q.method = need_string(L, "method");
  if (!canon_is_token(q.method)) luaL_error(L, WHERE ": field 'method' is not an HTTP method");
  q.host = need_string(L, "host");
  for (size_t i = 0; i < q.host.n; i++) {
    unsigned char c = (unsigned char)q.host.p[i];
    if (c <= ' ' || c == '/' || c == 127) luaL_error(L, WHERE ": field 'host' is not a host[:port]");
  }
  q.path.p = opt_string(L, "path", &q.path.n, 1);
  if (q.path.n == 0 || q.path.p[0] != '/') luaL_error(L, WHERE ": field 'path' must start with '/'");
  q.body.p = opt_string(L, "body", &q.body.n, 0);
  q.ak = need_string(L, "ak");
  if (!canon_is_field_value(q.ak) || memchr(q.ak.p, ',', q.ak.n) || memchr(q.ak.p, ' ', q.ak.n))
    luaL_error(L, WHERE ": field 'ak' has characters an access key cannot have");
  lua_getfield(L, 1, "sk");
  if (lua_isnil(L, -1)) luaL_error(L, WHERE ": field 'sk' is required");
  q.sk = secret_check(L, lua_gettop(L), WHERE, "sk");
  lua_pop(L, 1); /* the options table keeps it alive */

  char now[17];
  q.date.p = opt_string(L, "date", &q.date.n, 0);
  if (!q.date.p) {
    sign_format_date((long long)time(NULL), now);
    q.date = lit(now);
  } else if (!sign_is_date(q.date)) {
    luaL_error(L, WHERE ": field 'date' must look like 20261122T101500Z");
  }
  cstr token;
  token.p = opt_string(L, "security_token", &token.n, 0);
  if (token.p && (token.n == 0 || !canon_is_field_value(token)))
    luaL_error(L, WHERE ": field 'security_token' must be a non-empty header value");

  q.nquery = collect_query(L, anchor, &q.query);
  size_t given = collect_headers(L, anchor, 3, &q.headers);
  size_t n = given;
  q.headers[n].name = lit("Host");
  q.headers[n++].value = q.host;
  q.headers[n].name = lit("X-Sdk-Date");
  q.headers[n++].value = q.date;
  if (token.p) {
    q.headers[n].name = lit("X-Security-Token");
    q.headers[n++].value = token;
  }
  q.nheaders = n;

  sign_result *r = lua_newuserdata(L, sizeof *r);
  sign_result_init(r);
  luaL_setmetatable(L, RESULT_MT);
  size_t bad = 0;
  int rc = sign_request_sign(&q, r, &bad);
  if (rc == SIGN_EDUPHEADER) {
    lua_pushlstring(L, q.headers[bad].name.p, q.headers[bad].name.n);
    luaL_error(L, WHERE ": headers: '%s' is given twice (names are case-insensitive)",
               lua_tostring(L, -1));
  }
  if (rc == SIGN_ENOMEM) luaL_error(L, WHERE ": out of memory");
  if (rc != SIGN_OK) luaL_error(L, WHERE ": the crypto library failed");
  push_result(L, r, q.headers, q.nheaders, q.date);
  sign_result_free(r);
  return 1;
}

void sign_lua_open(lua_State *L) {
  if (luaL_newmetatable(L, RESULT_MT)) {
    lua_pushcfunction(L, result_gc);
    lua_setfield(L, -2, "__gc");
  }
  lua_pop(L, 1);
}
