/* cloud.core.secret: a secret key (or a security token) in C memory, wiped when closed or
 * collected; core.secret and core.header_line. */
#include "secret.h"

#include <stdlib.h>
#include <string.h>
#include <openssl/crypto.h>
#include "class.h"
#include "compat.h"
#include "result.h"
#include "sign.h"

/* The name of a method in its errors: METHOD("close") is "cloud.core.secret:close". */
#define METHOD(name) SECRET_MT ":" name

typedef struct {
  char *bytes;
  size_t len;
  sign_key *key; /* the same SK as a keyed HMAC context */
} secret;

/* One idempotent release for __gc, __close and close(): cleanse, free, NULL. */
static int secret_lua_close(lua_State *L) {
  secret *s = result_checkudata(L, 1, SECRET_MT, METHOD("close"), NULL);
  sign_key_free(s->key);
  s->key = NULL;
  if (s->bytes) {
    OPENSSL_cleanse(s->bytes, s->len);
    free(s->bytes);
    s->bytes = NULL;
    s->len = 0;
  }
  return 0;
}

static int secret_lua_tostring(lua_State *L) {
  secret *s = result_checkudata(L, 1, SECRET_MT, METHOD("__tostring"), NULL);
  lua_pushstring(L, s->bytes ? "cloud.core.secret (hidden)" : "cloud.core.secret (closed)");
  return 1;
}

/* Pushes a new secret holding a copy of p[0..n) (n > 0). */
void secret_push(lua_State *L, const char *p, size_t n) {
  secret *s = lua_newuserdata(L, sizeof *s); /* userdata first: an error below leaks nothing */
  s->bytes = NULL;
  s->len = 0;
  s->key = NULL;
  luaL_setmetatable(L, SECRET_MT);
  s->bytes = malloc(n);
  if (!s->bytes) luaL_error(L, "cloud.core.secret: out of memory");
  memcpy(s->bytes, p, n);
  s->len = n;
  s->key = sign_key_new(p, n);
  if (!s->key) luaL_error(L, "cloud.core.secret: OpenSSL could not key HMAC-SHA256");
}

/* core.secret(s): copies s into memory that is wiped on collection. */
static int secret_lua_secret(lua_State *L) {
  size_t n;
  const char *p = lua_tolstring(L, 1, &n);
  if (lua_type(L, 1) != LUA_TSTRING || n == 0)
    return result_argerror(L, "cloud.core.secret", "sk", "must be a non-empty string"); /* never its value */
  secret_push(L, p, n);
  return 1;
}

/* The secret at i, or NULL. mt: stack index of the secret metatable (a caller's cached
 * copy, cheaper than the registry lookup), or 0. */
static secret *to_secret(lua_State *L, int i, int mt) {
  if (!mt) return luaL_testudata(L, i, SECRET_MT);
  void *p = lua_touserdata(L, i);
  if (!p || !lua_getmetatable(L, i)) return NULL;
  int same = lua_rawequal(L, -1, mt);
  lua_pop(L, 1);
  return same ? p : NULL;
}

void secret_push_metatable(lua_State *L) { luaL_getmetatable(L, SECRET_MT); }

cstr secret_check(lua_State *L, int i, int mt, const char *where, const char *field,
                  const struct sign_key **key) {
  cstr out = {NULL, 0};
  *key = NULL;
  if (lua_type(L, i) == LUA_TSTRING) {
    out.p = lua_tolstring(L, i, &out.n);
  } else {
    secret *s = to_secret(L, i, mt);
    if (!s) result_argerror(L, where, field, "must be a string or a cloud.core.secret");
    if (!s->bytes) result_argerror(L, where, field, "is a closed secret");
    out.p = s->bytes;
    out.n = s->len;
    *key = s->key;
  }
  if (out.n == 0) result_argerror(L, where, field, "must not be empty");
  return out;
}

int secret_peek(lua_State *L, int i, cstr *out) {
  secret *s = luaL_testudata(L, i, SECRET_MT);
  if (!s || !s->bytes) return 0;
  out->p = s->bytes;
  out->n = s->len;
  return 1;
}

/* core.header_line(name, value) -> "name: value\r\n", value a string or a secret. Only
 * for the nginx transport: cosockets send Lua strings, so a security token must become
 * one there, for as long as the request is being written. */
static int secret_lua_header_line(lua_State *L) {
  static const char where[] = "cloud.core.header_line";
  cstr name, value;
  name.p = result_checkstring(L, 1, where, "name", &name.n);
  if (lua_type(L, 2) == LUA_TSTRING) value.p = lua_tolstring(L, 2, &value.n);
  else if (!secret_peek(L, 2, &value))
    return result_argerror(L, where, "value", "must be a string or an open cloud.core.secret");
  if (!canon_is_token(name)) return result_argerror(L, where, "name", "is not a header name");
  if (!canon_is_field_value(value)) /* never quoted: it may be a secret */
    return result_argerror(L, where, "value", "is not a header value");
  luaL_Buffer b;
  luaL_buffinit(L, &b);
  luaL_addlstring(&b, name.p, name.n);
  luaL_addlstring(&b, ": ", 2);
  luaL_addlstring(&b, value.p, value.n);
  luaL_addlstring(&b, "\r\n", 2);
  luaL_pushresult(&b);
  return 1;
}

void secret_lua_register(lua_State *L, int core) {
  static const luaL_Reg meta[] = {{"__gc", secret_lua_close}, {"__close", secret_lua_close},
                                  {"__tostring", secret_lua_tostring}, {NULL, NULL}};
  static const luaL_Reg methods[] = {{"close", secret_lua_close}, {NULL, NULL}};
  static const luaL_Reg funcs[] = {{"secret", secret_lua_secret}, {"header_line", secret_lua_header_line},
                                   {NULL, NULL}};
  if (class_metatable(L, SECRET_MT, meta, methods)) {
    lua_pushliteral(L, "cloud.core.secret");
    lua_setfield(L, -2, "__name");
    lua_pushliteral(L, "locked");
    lua_setfield(L, -2, "__metatable");
  }
  lua_pop(L, 1);
  class_functions(L, core, funcs);
}
