-- wrk script for bench/run-mcp: one JSON-RPC request (BENCH_BODY) POSTed again and again to
-- /mcp with an agent's bearer (BENCH_AUTH_VALUE), as a stateless MCP client sends it. With
-- BENCH_BODY unset the URL is fetched with GET (the upstream, called directly).

local body = os.getenv("BENCH_BODY")
local auth = os.getenv("BENCH_AUTH_VALUE")

if body and body ~= "" then
  wrk.method = "POST"
  wrk.body = body
  wrk.headers["Content-Type"] = "application/json"
  wrk.headers["Accept"] = "application/json, text/event-stream"
  wrk.headers["MCP-Protocol-Version"] = "2025-06-18"
  wrk.headers["Authorization"] = "Bearer " .. auth
end

-- A tool or protocol error still answers 200: count them per thread, so that a run that
-- measured refusals says so instead of reporting their speed.
local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  failed = 0
end

function response(status, headers, answer)
  if status ~= 200 or string.find(answer, '"isError":true', 1, true) or string.find(answer, '"error":{', 1, true) then
    failed = failed + 1
  end
end

-- One machine-readable line for bench/mcp.py, in bench/load.lua's format plus the failed
-- answers.
function done(summary, latency, requests)
  local total = 0
  for _, thread in ipairs(threads) do
    total = total + thread:get("failed")
  end
  local e = summary.errors
  io.write(string.format(
    'BENCH_RESULT {"requests":%d,"duration_us":%d,"connect":%d,"read":%d,"write":%d,' ..
      '"status":%d,"timeout":%d,"p50_us":%d,"p99_us":%d,"max_us":%d,"failed":%d}\n',
    summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(99), latency.max, total))
end
