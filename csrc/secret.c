#include "secret.h"

#include <stdlib.h>
#include <string.h>
#include <openssl/crypto.h>
#include "class.h"
#include "compat.h"
#include "sign.h"

typedef struct {
  char *bytes;
  size_t len;
  sign_key *key; /* the same SK as a keyed HMAC context */
} secret;

/* One idempotent release for __gc, __close and close(): cleanse, free, NULL. */
static int secret_release(lua_State *L) {
  secret *s = luaL_checkudata(L, 1, SECRET_MT);
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

static int secret_tostring(lua_State *L) {
  secret *s = luaL_checkudata(L, 1, SECRET_MT);
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
int secret_new(lua_State *L) {
  size_t n;
  const char *p = lua_tolstring(L, 1, &n);
  if (lua_type(L, 1) != LUA_TSTRING || n == 0)
    return luaL_error(L, "cloud.core.secret: expected a non-empty string");
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
    if (!s) luaL_error(L, "%s: field '%s' must be a string or a cloud.core.secret", where, field);
    if (!s->bytes) luaL_error(L, "%s: field '%s' is a closed secret", where, field);
    out.p = s->bytes;
    out.n = s->len;
    *key = s->key;
  }
  if (out.n == 0) luaL_error(L, "%s: field '%s' must not be empty", where, field);
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
int secret_header_line(lua_State *L) {
  cstr name, value;
  name.p = luaL_checklstring(L, 1, &name.n);
  if (lua_type(L, 2) == LUA_TSTRING) value.p = lua_tolstring(L, 2, &value.n);
  else if (!secret_peek(L, 2, &value)) return luaL_argerror(L, 2, "a string or an open cloud.core.secret expected");
  if (!canon_is_token(name) || !canon_is_field_value(value))
    return luaL_error(L, "cloud.core.header_line: a header is malformed");
  luaL_Buffer b;
  luaL_buffinit(L, &b);
  luaL_addlstring(&b, name.p, name.n);
  luaL_addlstring(&b, ": ", 2);
  luaL_addlstring(&b, value.p, value.n);
  luaL_addlstring(&b, "\r\n", 2);
  luaL_pushresult(&b);
  return 1;
}

void secret_open(lua_State *L) {
  static const luaL_Reg meta[] = {{"__gc", secret_release}, {"__close", secret_release},
                                  {"__tostring", secret_tostring}, {NULL, NULL}};
  static const luaL_Reg methods[] = {{"close", secret_release}, {NULL, NULL}};
  if (class_metatable(L, SECRET_MT, meta, methods)) {
    lua_pushliteral(L, "cloud.core.secret");
    lua_setfield(L, -2, "__name");
    lua_pushliteral(L, "locked");
    lua_setfield(L, -2, "__metatable");
  }
  lua_pop(L, 1);
}
