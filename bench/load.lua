-- wrk script shared by every server and workload in bench/run.
--
-- It is configured through the environment rather than arguments so that the driver can use
-- one script for clawvault, OpenBao and the ceiling, and the numbers differ only by server:
--   BENCH_METHOD       GET, PUT or POST
--   BENCH_PREFIX       path up to the key number, e.g. /v1/vaults/default/secrets/bench/k
--   BENCH_KEYS         0: always key 00000 (the hot key); N: a uniformly random key of N
--   BENCH_BODY         request body, "%s" replaced by a fresh 32-character value (writes)
--   BENCH_AUTH_HEADER  header name carrying the credential (Authorization, X-Vault-Token)
--   BENCH_AUTH_VALUE   its value
-- If BENCH_PREFIX is unset the URL's own path is requested (the ceiling's GET /).

local method = os.getenv("BENCH_METHOD") or "GET"
local prefix = os.getenv("BENCH_PREFIX")
local keys = tonumber(os.getenv("BENCH_KEYS") or "0")
local body_template = os.getenv("BENCH_BODY")
local auth_header = os.getenv("BENCH_AUTH_HEADER")
local auth_value = os.getenv("BENCH_AUTH_VALUE")

wrk.method = method
if auth_header and auth_header ~= "" then
  wrk.headers[auth_header] = auth_value
end
if body_template and body_template ~= "" then
  wrk.headers["Content-Type"] = "application/json"
end
if prefix and prefix ~= "" then
  wrk.path = prefix .. "00000"
end

-- Each wrk thread has its own Lua state; numbering them keeps their random sequences and
-- written values apart.
local thread_count = 0
function setup(thread)
  thread:set("thread_id", thread_count)
  thread_count = thread_count + 1
end

-- A static request (no request() function) is wrk's cheapest path, so the hot-key read and
-- the ceiling do not pay for Lua on every request; only workloads that need a different
-- request each time define one.
local counter = 0
if keys > 0 or (body_template and body_template ~= "") then
  function init(args)
    math.randomseed(os.time() * 1000 + (thread_id or 0))
  end

  function request()
    local path = wrk.path
    if keys > 0 then
      path = prefix .. string.format("%05d", math.random(0, keys - 1))
    end
    local body = nil
    if body_template and body_template ~= "" then
      counter = counter + 1
      -- A different value per write, so nothing can short-circuit an unchanged version.
      local value = string.format("t%02d-%027d", thread_id or 0, counter)
      body = string.format(body_template, value)
    end
    return wrk.format(method, path, nil, body)
  end
end

-- One machine-readable line for the driver; wrk's own text report stays above it for people.
-- errors.status counts responses with status >= 400 (wrk's definition of a non-2xx error).
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'BENCH_RESULT {"requests":%d,"duration_us":%d,"connect":%d,"read":%d,"write":%d,' ..
      '"status":%d,"timeout":%d,"p50_us":%d,"p99_us":%d,"max_us":%d}\n',
    summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(99), latency.max))
end
