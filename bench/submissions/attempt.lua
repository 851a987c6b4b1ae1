-- wrk script for bench/submissions.py: POST pre-generated flag submissions.
-- wrk ... -s attempt.lua http://127.0.0.1:PORT -- POOL_FILE THREADS
-- POOL_FILE has one request a line: path <TAB> raw token <TAB> JSON body.
-- Thread k sends lines k, k+THREADS, k+2*THREADS, ... (no repeats until the pool
-- wraps), tallies the "result" of each answer, and done() prints one JSON line.

local threads = {}
local reqs = {}
local counter, stride = 0, 1
results = {}

function setup(thread)
  thread:set("tid", #threads)
  table.insert(threads, thread)
end

function init(args)
  local f = assert(io.open(args[1], "r"))
  for line in f:lines() do
    local path, token, body = line:match("^([^\t]+)\t([^\t]+)\t(.+)$")
    reqs[#reqs + 1] = wrk.format("POST", path, {
      ["Authorization"] = "Token " .. token,
      ["Content-Type"] = "application/json",
    }, body)
  end
  f:close()
  counter, stride = tid, tonumber(args[2] or "1")
end

function request()
  local r = reqs[(counter % #reqs) + 1]
  counter = counter + stride
  return r
end

function response(status, headers, body)
  local key = body and body:match('"result":%s*"([%w_]+)"') or ("http_" .. status)
  results[key] = (results[key] or 0) + 1
end

function done(summary, latency, requests)
  local merged = {}
  for _, thread in ipairs(threads) do
    for k, v in pairs(thread:get("results")) do merged[k] = (merged[k] or 0) + v end
  end
  local parts = {}
  for k, v in pairs(merged) do parts[#parts + 1] = string.format('"%s": %d', k, v) end
  local e = summary.errors
  io.write(string.format(
    'WRK_JSON {"requests": %d, "duration_us": %d, "p50": %d, "p90": %d, "p99": %d, ' ..
    '"max": %d, "mean": %.1f, "errors": {"connect": %d, "read": %d, "write": %d, ' ..
    '"status": %d, "timeout": %d}, "results": {%s}}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(90),
    latency:percentile(99), latency.max, latency.mean, e.connect, e.read, e.write,
    e.status, e.timeout, table.concat(parts, ", ")))
end
