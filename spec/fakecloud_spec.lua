-- The local cloud emulator (tools/fakecloud): its signature verifier against the
-- published vectors, and the emulator over real HTTP. Runs under lua5.4 and luajit.
package.path = "tools/?.lua;" .. package.path

local cjson = require "cjson"
local socket = require "socket"
local auth = require "fakecloud.auth"
local launcher = require "fakecloud.launcher"
local client = require "fakecloud.client"

local read_file = require("fakecloud.proc").read

local function split_url(url)
  return url:match("^%a+://([^/]+)([^?]*)%??(.*)$")
end

local FLEET = {
  ecs = {
    { count = 900, name = "web-%04d", tags = { "env=staging" }, flavor = "s6.large.2" },
    { count = 100, name = "db-%d", status = "SHUTOFF", tags = { "env=prod", "role=db" },
      flavor = "c6.xlarge.2" },
    { id = "explicit-id-1", name = "x", locked = true },
  },
  bms = { { count = 5, name = "bm-%d" } },
}

describe("fakecloud signature verifier", function()
  local vectors = require("support.vectors").load() -- spec/fixtures

  it("reproduces every published vector from url, headers and body", function()
    assert.is_true(#vectors > 0)
    for _, v in ipairs(vectors) do
      local host, path, query = split_url(v.url)
      local headers = { host = host, ["x-sdk-date"] = v.sdk_date }
      for k, val in pairs(v.headers) do headers[k:lower()] = val end
      local body = v.body ~= cjson.null and v.body or ""
      local e = v.expected
      local list = {}
      for n in e.signed_headers:gmatch("[^;]+") do list[#list + 1] = n end
      local req = { method = v.method, path = path, query = query, headers = headers, body = body }
      local cr, sts = auth.build(req, list, v.sdk_date)
      assert.are.equal(e.canonical_request, cr, v.name)
      assert.are.equal(e.string_to_sign, sts, v.name)
      local sig = auth.sign(v.sk, sts)
      assert.are.equal(e.authorization, "SDK-HMAC-SHA256 Access=" .. v.ak .. ", SignedHeaders=" ..
        e.signed_headers .. ", Signature=" .. sig, v.name)

      -- The full verifier accepts the SDK's header, and refuses one changed byte.
      headers.authorization = e.authorization
      local now = auth.parse_sdk_date(v.sdk_date)
      local creds = { { ak = v.ak, sk = v.sk } }
      assert.is_true(auth.verify(req, creds, now), v.name)
      req.body = body .. " "
      assert.is_false(auth.verify(req, creds, now), v.name)
      req.body = body
      assert.is_false(auth.verify(req, creds, now + 16 * 60), v.name)
    end
  end)

  it("canonicalizes paths and queries from the raw wire form", function()
    assert.are.equal("/", auth.canonical_uri(""))
    assert.are.equal("/a%20b/c%2Fd/", auth.canonical_uri("/a%20b/c%2fd"))
    assert.are.equal("a=1&a=2&b=&c=%2A", auth.canonical_query("c=*&b&a=2&a=1"))
    assert.are.equal("", auth.canonical_query(""))
    assert.are.equal(1573789015, auth.parse_sdk_date("20191115T033655Z"))
  end)

  it("reads X-Sdk-Date outside nginx by gmtime alone, refusing what is no time", function()
    assert.are.equal(951782400, auth.parse_sdk_date("20000229T000000Z"))
    assert.are.equal(0, auth.parse_sdk_date("19700101T000000Z"))
    for t = 0, 4102444800, 97 * 86400 + 3661 do -- 1970 to 2100
      assert.are.equal(t, auth.parse_sdk_date(auth.format_sdk_date(t)))
    end
    for _, bad in ipairs({ "20190229T000000Z", "21000229T000000Z", "20191301T000000Z", "20191100T000000Z",
                           "20191115T240000Z", "20191115T036000Z", "2019-11-15T03:36:55Z", "" }) do
      assert.is_nil(auth.parse_sdk_date(bad), bad)
    end
  end)
end)

describe("fakecloud emulator", function()
  local fc, c

  setup(function()
    fc = assert(launcher.start { config = { fleet = FLEET, job_duration = 0.2 } })
    c = client.for_emulator(fc)
  end)

  teardown(function()
    if fc then fc:stop() end
  end)

  before_each(function()
    assert(fc:configure { faults = {}, clock_skew = 0, transient_fail = {},
                          credentials = { { ak = fc.ak, sk = fc.sk } }, bms_in_ecs_list = false })
  end)

  local function api(path) return "/v1/" .. fc.project_id .. path end

  local function ids_of(list)
    local out = {}
    for i, s in ipairs(list.servers) do out[i] = s.id end
    return out
  end

  describe("launcher", function()
    it("starts on a free port and stops cleanly, twice", function()
      local other = assert(launcher.start { config = { fleet = { ecs = { { count = 1 } } } } })
      assert.are.equal("http://127.0.0.1:" .. other.port, other.url)
      assert.are.equal(fc.project_id, other.project_id)
      assert.are.equal(1, other:stats().servers.ecs.ACTIVE)
      local prefix = other.prefix
      local pid = read_file(prefix .. "/nginx.pid"):match("%d+")
      other:stop()
      other:stop()
      assert.is_nil(io.open(prefix .. "/nginx.conf"))
      local stat = io.open("/proc/" .. pid .. "/stat")
      if stat then
        assert.matches("^%d+ %b() Z", stat:read("*a")) -- gone, or a zombie awaiting its reaper
        stat:close()
      end
    end)

    it("serves https with a given certificate", function()
      local dir = io.popen("mktemp -d"):read("*l")
      os.execute("env -u LD_PRELOAD openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=127.0.0.1 -keyout " ..
        dir .. "/key.pem -out " .. dir .. "/cert.pem >/dev/null 2>&1")
      local tls = assert(launcher.start { tls = { cert = dir .. "/cert.pem", key = dir .. "/key.pem" } })
      assert.matches("^https://", tls.url)
      assert.are.equal(0, tls:stats().calls.total)
      tls:stop()
      os.execute("rm -rf " .. dir)
    end)
  end)

  describe("authentication", function()
    it("answers an unsigned request with 401 APIGW.0301 and a request id", function()
      local before = fc:stats().signature_failures
      local code, text = fc:http("GET", api("/cloudservers/detail"))
      assert.are.equal(401, code)
      local body = cjson.decode(text)
      assert.are.equal("APIGW.0301", body.error_code)
      assert.matches("verify aksk signature fail", body.error_msg)
      assert.are.equal(before + 1, fc:stats().signature_failures)
      local code2, _, h2 = client.for_emulator(fc):request("GET", api("/jobs/x"))
      assert.are.equal(404, code2)
      assert.matches("^" .. ("%x"):rep(32) .. "$", h2["x-request-id"])
      assert.are.equal("application/json", h2["content-type"])
    end)

    it("quotes its canonical request on a bad signature, never the SK", function()
      local wrong = client.for_emulator(fc, { sk = "not-the-secret" })
      local code, body = wrong:list("ecs", { limit = 1 })
      assert.are.equal(401, code)
      assert.are.equal("APIGW.0301", body.error_code)
      assert.matches("GET|/v1/" .. fc.project_id .. "/cloudservers/detail/|limit=1|", body.error_msg, 1, true)
      assert.is_nil(body.error_msg:find(fc.sk, 1, true))
      local unknown = client.for_emulator(fc, { ak = "NOSUCHAK" })
      assert.are.equal(401, (unknown:list("ecs")))
    end)

    it("reads X-Sdk-Date inside nginx: a leap day is a date, 29 February 2019 is none", function()
      local code, body = client.for_emulator(fc, { date = "20000229T120000Z" }):list("ecs")
      assert.are.equal(401, code)
      assert.matches("signature expired: x-sdk-date 20000229T120000Z", body.error_msg, 1, true)
      for _, bad in ipairs({ "20190229T120000Z", "20191301T120000Z", "20191115T240000Z" }) do
        local code2, body2 = client.for_emulator(fc, { date = bad }):list("ecs")
        assert.are.equal(401, code2)
        assert.matches("X-Sdk-Date is not YYYYMMDDTHHMMSSZ", body2.error_msg, 1, true)
      end
      -- The window, to the minute: 14 minutes off either way is taken, 16 is not.
      for _, off in ipairs({ -14, 14 }) do
        assert.are.equal(200, (client.for_emulator(fc, { clock_skew = off * 60 }):list("ecs")), off)
      end
      for _, off in ipairs({ -16, 16 }) do
        local code3, body3 = client.for_emulator(fc, { clock_skew = off * 60 }):list("ecs")
        assert.are.equal(401, code3, off)
        assert.matches("signature expired", body3.error_msg, 1, true)
      end
    end)

    it("refuses a date 15 minutes off, and follows its own clock skew", function()
      local late = client.for_emulator(fc, { clock_skew = -1000 })
      local code, body = late:list("ecs")
      assert.are.equal(401, code)
      assert.matches("signature expired", body.error_msg)

      fc:configure { clock_skew = 3600 }
      local code2, _, h = c:list("ecs")
      assert.are.equal(401, code2)
      local skewed = client.for_emulator(fc, { clock_skew = 3600 })
      local code3, _, h3 = skewed:list("ecs")
      assert.are.equal(200, code3)
      local date = auth.parse_sdk_date(os.date("!%Y%m%dT%H%M%SZ", os.time()))
      for _, hd in ipairs({ h, h3 }) do
        local d, mon, y, H, M, S = hd.date:match("(%d+) (%a+) (%d+) (%d+):(%d+):(%d+)")
        assert.is_truthy(d)
        local months = { Jan = 1, Feb = 2, Mar = 3, Apr = 4, May = 5, Jun = 6, Jul = 7, Aug = 8,
                         Sep = 9, Oct = 10, Nov = 11, Dec = 12 }
        local t = auth.parse_sdk_date(string.format("%04d%02d%02dT%02d%02d%02dZ", y, months[mon], d, H, M, S))
        assert.is_true(math.abs(t - (date + 3600)) <= 5)
      end
    end)

    it("requires a signed security token when the credential has one", function()
      fc:configure { credentials = { { ak = fc.ak, sk = fc.sk, security_token = "tok+en/=" } } }
      assert.are.equal(401, (c:list("ecs")))
      local with = client.for_emulator(fc, { security_token = "tok+en/=" })
      assert.are.equal(200, (with:list("ecs")))
      local wrong = client.for_emulator(fc, { security_token = "other" })
      assert.are.equal(401, (wrong:list("ecs")))
    end)

    it("takes a signed X-Sdk-Content-Sha256 in place of the body hash", function()
      local code = c:request("POST", api("/cloudservers/action"), nil,
        '{"os-stop":{"servers":[{"id":"no-such"}]}}', { ["X-Sdk-Content-Sha256"] = "UNSIGNED-PAYLOAD" })
      assert.are.equal(200, code)
    end)

    it("reuses keep-alive connections and counts distinct ones", function()
      local before = fc:stats().connections
      local s = assert(socket.connect("127.0.0.1", fc.port))
      local req = "GET " .. api("/jobs/x") .. " HTTP/1.1\r\nHost: 127.0.0.1\r\n"
      assert(s:send(req .. "\r\n" .. req .. "\r\n" .. req .. "Connection: close\r\n\r\n"))
      local all = s:receive("*a")
      s:close()
      local n = select(2, all:gsub("HTTP/1%.1 401", ""))
      assert.are.equal(3, n)
      assert.are.equal(before + 1, fc:stats().connections)
    end)
  end)

  describe("admin", function()
    it("replaces the fleet, resets counters and looks up servers", function()
      local other = assert(launcher.start {})
      local ok = assert(other:configure { fleet = { ecs = { { count = 3, status = "SHUTOFF" } } } })
      assert.is_true(ok.ok)
      local st = other:stats()
      assert.are.equal(3, st.servers.ecs.SHUTOFF)
      assert.are.same({ action = 0, job = 0, list = 0, iam = 0, projects = 0, total = 0 }, st.calls)
      for _, k in ipairs({ "statuses", "faults", "signature_failures", "connections", "jobs",
                           "stop_requests" }) do
        assert.is_not_nil(st[k], k)
      end
      local oc = client.for_emulator(other)
      local _, l = oc:list("ecs")
      assert.are.equal(1, oc:stop("ecs", { l.servers[1].id }) and other:stats().jobs)
      assert.are.equal(1, other:server(l.servers[1].id).stop_requests)
      assert.is_nil(other:server("nope"))
      other:reset()
      assert.are.equal(0, other:stats().jobs)
      assert.are.equal(0, other:stats().stop_requests.total)
      other:stop()
    end)
  end)

  describe("listing", function()
    it("pages with offset as page number and a stable order", function()
      local code, p1 = c:list("ecs", { limit = 1000 })
      assert.are.equal(200, code)
      assert.are.equal(1001, p1.count)
      assert.are.equal(1000, #p1.servers)
      assert.are.equal("web-0001", p1.servers[1].name)
      assert.are.equal("db-100", p1.servers[1000].name)
      local _, p2 = c:list("ecs", { limit = 1000, offset = 2 })
      assert.are.equal(1, #p2.servers)
      assert.are.equal("explicit-id-1", p2.servers[1].id)
      local _, d = c:list("ecs")
      assert.are.equal(25, #d.servers)
      local _, again = c:list("ecs", { limit = 1000 })
      assert.are.same(ids_of(p1), ids_of(again))
      assert.are.equal(400, (c:list("ecs", { limit = 1001 })))
      assert.are.equal(400, (c:list("ecs", { offset = 0 })))
      local _, b = c:list("bms", { limit = 10 })
      assert.are.equal(5, b.count)
      assert.are_not.equal(p1.servers[1].id, b.servers[1].id)
    end)

    it("renders the documented server fields, empty tags as []", function()
      local _, text = c:request("GET", api("/cloudservers/detail"), { server_id = "explicit-id-1" })
      assert.matches('"tags":%[%]', text)
      local s = cjson.decode(text).servers[1]
      assert.are.equal(true, s.locked)
      local _, l = c:list("ecs", { limit = 1 })
      s = l.servers[1]
      for _, k in ipairs({ "id", "name", "status", "OS-EXT-STS:power_state", "locked", "metadata", "tags",
                           "flavor", "OS-EXT-AZ:availability_zone", "enterprise_project_id",
                           "addresses", "created", "updated" }) do
        assert.is_not_nil(s[k], k)
      end
      assert.are.equal(1, s["OS-EXT-STS:power_state"])
      assert.are.equal("s6.large.2", s.flavor.id)
      assert.matches("^%x+%-%x+%-%x+%-%x+%-%x+$", s.id)
    end)

    it("filters by name, status, tags, not-tags, flavor, ip and server_id", function()
      local function count(q) local code, l = c:list("ecs", q) assert.are.equal(200, code) return l.count end
      assert.are.equal(99, count { name = "web-00" })
      assert.are.equal(100, count { status = "SHUTOFF" })
      assert.are.equal(100, count { tags = "env=prod" })
      assert.are.equal(100, count { tags = "env=prod,role=db" })
      assert.are.equal(0, count { tags = { "env=staging", "role=db" } })
      assert.are.equal(101, count { ["not-tags"] = "env=staging" })
      assert.are.equal(100, count { flavor = "c6.xlarge.2" })
      local _, l = c:list("ecs", { limit = 2 })
      assert.are.equal(2, count { server_id = l.servers[1].id .. "," .. l.servers[2].id, name = "nomatch" })
      assert.are.equal(1, count { ip_eq = l.servers[1].addresses["vpc-ecs"][1].addr })
      local _, page = c:list("ecs", { status = "SHUTOFF", limit = 30, offset = 4 })
      assert.are.equal(10, #page.servers)
      assert.are.equal("db-91", page.servers[1].name)
    end)

    it("can show bare-metal servers in the ECS list, tagged", function()
      fc:configure { bms_in_ecs_list = true }
      local _, l = c:list("ecs", { limit = 1000, offset = 2 })
      assert.are.equal(1006, l.count)
      assert.are.equal("__type_baremetal", l.servers[6].tags[1])
      assert.are.equal(5, (select(2, c:list("ecs", { tags = "__type_baremetal" }))).count)
    end)
  end)

  describe("stop and jobs", function()
    local web

    before_each(function()
      fc:reset()
      local _, l = c:list("ecs", { limit = 1000 })
      web = ids_of(l)
    end)

    it("validates the os-stop body", function()
      local many = {}
      for i = 1, 1001 do many[i] = "id-" .. i end
      local code, body = c:stop("ecs", many)
      assert.are.equal(400, code)
      assert.are.equal("Ecs.0118", body.error.code)
      assert.are.equal(400, (c:stop("ecs", { web[1], web[1] })))
      assert.are.equal(400, (c:stop("ecs", {})))
      assert.are.equal(400, (c:stop("ecs", { web[1] }, "GENTLE")))
      local bcode, bbody = c:stop("bms", { web[1] }, "SOFT")
      assert.are.equal(400, bcode)
      assert.matches("^BMS%.", bbody.error.code)
      assert.are.equal(400, (c:json("POST", api("/cloudservers/action"), nil,
        '{"reboot":{"type":"SOFT","servers":[{"id":"a"}]}}')))
      assert.are.equal(400, (c:json("POST", api("/cloudservers/action"), nil, "{not json")))
      local other = client.for_emulator(fc, { project_id = "ffffffffffffffffffffffffffffffff" })
      assert.are.equal(403, (other:stop("ecs", { web[1] })))
      local jcode, jbody = c:job("00000000-0000-4000-8000-000000000000")
      assert.are.equal(404, jcode)
      assert.are.equal("Common.0011", jbody.error.code)
      assert.are.equal(0, fc:stats().jobs)
    end)

    it("reads the compact body and any other JSON form of it alike", function()
      local path = api("/cloudservers/action")
      local function stop(body) return (c:json("POST", path, nil, body)) end
      assert.are.equal(200,
        stop('{"os-stop":{"type":"SOFT","servers":[{"id":"' .. web[1] .. '"},{"id":"' .. web[2] .. '"}]}}'))
      assert.are.equal(200, stop(' { "os-stop" : { "servers" : [ { "id" : "' .. web[3] .. '" } ], "type" : "HARD" } }'))
      local escaped = ("\\u%04x"):format(web[4]:byte(1)) .. web[4]:sub(2) -- the same id, its first byte escaped
      assert.are.equal(200, stop('{"os-stop":{"type":"SOFT","servers":[{"id":"' .. escaped .. '"}]}}'))
      for _, case in ipairs({
        { '{"os-stop":{"type":"SOFT","servers":[{"id":"' .. web[5] .. '"},]}}', "not a JSON object" }, -- trailing comma
        { '{"os-stop":{"type":"SOFT","servers":[{"id":""}]}}', "servers[1].id must be a string" },
        { '{"os-stop":{"type":"SOFT","servers":[{"id":"' .. web[5] .. '"}{"id":"' .. web[6] .. '"}]}}',
          "not a JSON object" },
        { '{"os-stop":{"type":"SOFT","servers":[{"id":"' .. web[5] .. '"},{"id":"' .. web[5] .. '"}]}}',
          "duplicate server id" },
        { '{"os-stop":{"type":"SOFT","servers":[]}}', "non-empty array" },
        { '{"os-stop":{"type":"soft","servers":[{"id":"' .. web[5] .. '"}]}}', "invalid os-stop.type soft" },
        { '{"os-stop":{"type":"SOFT","servers":[{"id":"' .. web[5] .. '"}]}}x', "not a JSON object" }, -- trailing bytes
      }) do
        local code, answer = c:json("POST", path, nil, case[1])
        assert.are.equal(400, code, case[1])
        local message = type(answer) == "table" and answer.error and answer.error.message or ""
        assert.truthy(message:find(case[2], 1, true), case[1] .. " -> " .. tostring(message))
      end
      local st = fc:stats()
      assert.are.equal(4, st.stop_requests.total)
      assert.are.equal(1, fc:server(web[4]).stop_requests) -- the escaped id is the same server
      assert.are.equal(0, fc:server(web[5]).stop_requests) -- no refused body stopped anything
    end)

    it("runs a job to FAIL with per-server outcomes, and stops what it can", function()
      local db1 = web[901]
      local code, r = c:stop("ecs", { web[1], db1, "explicit-id-1", "no-such-server" }, "HARD")
      assert.are.equal(200, code)
      local _, j = c:job(r.job_id)
      assert.is_truthy(j.status == "INIT" or j.status == "RUNNING")
      assert.are.equal(4, j.entities.sub_jobs_total)
      assert.are.equal("powering-off", fc:server(web[1])["OS-EXT-STS:task_state"])
      local _, r2 = c:stop("ecs", { web[1] }) -- already being stopped
      socket.sleep(0.25)
      local _, done = c:job(r.job_id)
      assert.are.equal("FAIL", done.status)
      assert.are.equal("batchStopServer", done.job_type)
      assert.is_string(done.error_code)
      local by = {}
      for _, s in ipairs(done.entities.sub_jobs) do by[s.entities.server_id] = s end
      assert.are.equal("SUCCESS", by[web[1]].status)
      assert.are.equal("Ecs.0100", by[db1].error_code)
      assert.are.equal("Ecs.0605", by["explicit-id-1"].error_code)
      assert.are.equal("Ecs.0114", by["no-such-server"].error_code)
      assert.are.equal("FAIL", by["no-such-server"].status)
      local _, d2 = c:job(r2.job_id)
      assert.are.equal("Ecs.0100", d2.entities.sub_jobs[1].error_code)
      local s = fc:server(web[1])
      assert.are.equal("SHUTOFF", s.status)
      assert.are.equal(4, s["OS-EXT-STS:power_state"])
      assert.are.equal(2, s.stop_requests)
      local st = fc:stats()
      assert.are.equal(2, st.jobs)
      assert.are.equal(900, st.servers.ecs.ACTIVE) -- 899 web + the locked one
      assert.are.equal(101, st.servers.ecs.SHUTOFF)
      assert.are.equal(1, st.stop_requests.sent_more_than_once)
      assert.are.equal(2, st.stop_requests.max_per_server)
    end)

    it("succeeds a clean job; a transient failure succeeds on retry", function()
      fc:configure { transient_fail = { ids = { web[3] } }, job_duration = 0 }
      local _, r = c:stop("ecs", { web[2] })
      local _, j = c:job(r.job_id)
      assert.are.equal("SUCCESS", j.status)
      assert.are.equal(cjson.null, j.error_code)
      local _, t1 = c:stop("ecs", { web[3] })
      local _, j1 = c:job(t1.job_id)
      assert.are.equal("FAIL", j1.status)
      assert.are.equal("Ecs.0603", j1.entities.sub_jobs[1].error_code)
      local _, t2 = c:stop("ecs", { web[3] })
      assert.are.equal("SUCCESS", (select(2, c:job(t2.job_id))).status)
      assert.are.equal("SHUTOFF", fc:server(web[3]).status)
      fc:configure { job_duration = 0.2 }
    end)

    it("stops bare-metal servers through the BMS endpoint", function()
      local _, b = c:list("bms")
      local _, r = c:stop("bms", { b.servers[1].id })
      local _, wrong = c:stop("bms", { web[4] })
      socket.sleep(0.25)
      assert.are.equal("SUCCESS", (select(2, c:job(r.job_id))).status)
      assert.are.equal("Ecs.0114", (select(2, c:job(wrong.job_id))).entities.sub_jobs[1].error_code)
      assert.are.equal(1, fc:stats().servers.bms.SHUTOFF)
    end)
  end)

  describe("faults", function()
    before_each(function() fc:reset() end)

    it("injects statuses, drops and malformed bodies at roughly the configured rates", function()
      fc:configure { faults = { seed = 42, status = { ["429"] = 0.3, [500] = 0.1 }, drop = 0.1,
                                malformed = 0.1, retry_after = 0 } }
      local seen = { drop = 0, [429] = 0, [500] = 0, malformed = 0, [404] = 0 }
      local retry_after
      for _ = 1, 200 do
        local code, text, h = c:request("GET", api("/jobs/none"))
        if not code then seen.drop = seen.drop + 1
        elseif code == 200 then
          assert.is_false(pcall(cjson.decode, text))
          seen.malformed = seen.malformed + 1
        else
          seen[code] = seen[code] + 1
          if code == 429 then
            retry_after = h["retry-after"]
            assert.are.equal("APIGW.0308", cjson.decode(text).error_code)
          end
        end
      end
      local function near(expected, got) assert.is_true(math.abs(got - expected) <= expected * 0.5 + 5,
        "expected about " .. expected .. ", got " .. got) end
      near(20, seen.drop)
      near(54, seen[429])
      near(18, seen[500])
      near(11, seen.malformed)
      assert.are.equal("0", retry_after)
      local st = fc:stats()
      assert.are.equal(seen.drop, st.faults.drop)
      assert.are.equal(seen[429], st.faults["429"])
      assert.are.equal(seen[429], st.statuses["429"])
      assert.are.equal(seen.malformed, st.faults.malformed)
      assert.are.equal(200, st.calls.job)
    end)

    it("drop_after processes the stop, then closes without an answer", function()
      local _, l = c:list("ecs", { limit = 2 })
      fc:configure { faults = { drop_after = 1, apply_to = { action = true, job = false, list = false } } }
      local code = c:stop("ecs", ids_of(l))
      assert.is_nil(code)
      local st = fc:stats()
      assert.are.equal(1, st.jobs)
      assert.are.equal(2, st.stop_requests.total)
      assert.are.equal(1, st.faults.drop_after)
      assert.are.equal(200, (c:list("ecs")))
    end)

    it("adds latency and hangs", function()
      fc:configure { faults = { latency = 0.1, hang = 0.2, hang_rate = 1 } }
      local t0 = socket.gettime()
      assert.are.equal(404, (c:job("none")))
      assert.is_true(socket.gettime() - t0 >= 0.29)
      assert.are.equal(1, fc:stats().faults.hang)
    end)

    it("holds fault answers for the latency too: a throttled call costs a round trip", function()
      for _, faults in ipairs({ { status = { [429] = 1 } }, { status = { [500] = 1 } }, { malformed = 1 } }) do
        faults.latency = 0.2
        fc:configure { faults = faults }
        local t0 = socket.gettime()
        local code = c:job("none")
        local took = socket.gettime() - t0
        assert.are_not.equal(404, code) -- the fault answered, not the handler
        assert.is_true(took >= 0.19, ("%s answered after %.3f s"):format(tostring(code), took))
      end
    end)

    it("counts latency from the request's arrival, or after its work when asked", function()
      -- A client that sends its body 0.6 s after the headers: counted from arrival, a 0.4 s
      -- latency has passed by the time the work starts; counted after the work, it has not.
      -- (Wide margins: the client's own signing is slow under valgrind.)
      local slow = client.for_emulator(fc, { body_delay = 0.6 })
      local function took()
        local t0 = socket.gettime()
        assert.are.equal(400, (slow:stop("ecs", {}))) -- answered once the body is read
        return socket.gettime() - t0
      end
      fc:configure { faults = { latency = 0.4 } }
      local arrival = took()
      fc:configure { faults = { latency = 0.4, latency_mode = "after_work" } }
      local after_work = took()
      assert.is_true(arrival >= 0.59 and arrival < 0.9, "arrival: " .. arrival)
      assert.is_true(after_work >= 0.99, "after_work: " .. after_work)
      local ok, err = fc:configure { faults = { latency = 0.1, latency_mode = "later" } }
      assert.is_nil(ok)
      assert.truthy(err:find("faults.latency_mode must be", 1, true), err)
    end)
  end)
end)
