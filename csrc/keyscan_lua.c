/* core.security_key(body): the metadata service's security key answer (a string, or a
 * cloud.core.body from the HTTP engine) read by keyscan.c. Returns
 * { access = string, secret = cloud.core.secret, security_token = cloud.core.secret,
 *   expires_at = string }, or nil and a reason that never quotes the answer. */
#include <string.h>

#include "body_lua.h"
#include "canon.h"
#include "class.h"
#include "compat.h"
#include "keyscan.h"
#include "keyscan_lua.h"
#include "result.h"
#include "secret.h"

#define STATE_MT "cloud.core.keyscan_state"
#define WHERE "cloud.core.security_key"

/* The parse buffers live in a userdata made before parsing, so an error while the
 * answer is being turned into Lua values (memory) still wipes them, at its __gc. */
static int keyscan_lua_scratch_gc(lua_State *L) {
  keyscan_result *r = result_checkudata(L, 1, STATE_MT, STATE_MT ":__gc", NULL);
  keyscan_free(r);
  return 0;
}

static cstr field(const keyscan_result *r, int k) {
  cstr s = {r->f[k].len ? r->f[k].data : "", r->f[k].len};
  return s;
}

/* Why the parsed credential cannot be used, or NULL. */
static const char *unusable(const keyscan_result *r) {
  if (!r->set[KEYSCAN_ACCESS] || !r->set[KEYSCAN_SECRET] || !r->set[KEYSCAN_TOKEN] ||
      !r->set[KEYSCAN_EXPIRES_AT])
    return "the answer lacks credential.access, secret, securitytoken or expires_at";
  cstr ak = field(r, KEYSCAN_ACCESS);
  if (ak.n == 0 || ak.n > 128 || !canon_is_field_value(ak) || memchr(ak.p, ',', ak.n) ||
      memchr(ak.p, ' ', ak.n))
    return "credential.access is not an access key";
  if (field(r, KEYSCAN_SECRET).n == 0) return "credential.secret is empty";
  cstr token = field(r, KEYSCAN_TOKEN);
  if (token.n == 0 || !canon_is_field_value(token))
    return "credential.securitytoken is empty or not a header value";
  cstr exp = field(r, KEYSCAN_EXPIRES_AT);
  if (exp.n == 0 || exp.n > 64 || !canon_is_field_value(exp)) return "credential.expires_at is not a time";
  return NULL;
}

/* core.security_key(answer) -> credential, or nil and why it is none */
static int keyscan_lua_security_key(lua_State *L) {
  size_t n;
  const char *p = body_lua_bytes(L, 1, &n);
  if (!p)
    return result_argerror(L, WHERE, "answer", "must be a string or cloud.core.body, not %s",
                           result_typename(L, 1));
  keyscan_result *r = lua_newuserdata(L, sizeof *r);
  keyscan_init(r);
  luaL_setmetatable(L, STATE_MT);
  int rc = keyscan_parse(r, p, n);
  if (rc == KEYSCAN_ENOMEM) {
    keyscan_free(r);
    return luaL_error(L, WHERE ": out of memory");
  }
  const char *why = rc == KEYSCAN_OK ? unusable(r) : r->error;
  if (why) {
    keyscan_free(r); /* why is a literal, or r->error, a static reason */
    return result_fail(L, 0, "%s", why);
  }
  lua_createtable(L, 0, 4);
  lua_pushlstring(L, r->f[KEYSCAN_ACCESS].data, r->f[KEYSCAN_ACCESS].len);
  lua_setfield(L, -2, "access");
  lua_pushlstring(L, r->f[KEYSCAN_EXPIRES_AT].data, r->f[KEYSCAN_EXPIRES_AT].len);
  lua_setfield(L, -2, "expires_at");
  secret_push(L, r->f[KEYSCAN_SECRET].data, r->f[KEYSCAN_SECRET].len);
  lua_setfield(L, -2, "secret");
  secret_push(L, r->f[KEYSCAN_TOKEN].data, r->f[KEYSCAN_TOKEN].len);
  lua_setfield(L, -2, "security_token");
  keyscan_free(r);
  return 1;
}

void keyscan_lua_register(lua_State *L, int core) {
  static const luaL_Reg meta[] = {{"__gc", keyscan_lua_scratch_gc}, {NULL, NULL}};
  static const luaL_Reg none[] = {{NULL, NULL}};
  static const luaL_Reg funcs[] = {{"security_key", keyscan_lua_security_key}, {NULL, NULL}};
  class_metatable(L, STATE_MT, meta, none);
  lua_pop(L, 1);
  class_functions(L, core, funcs);
}
