-- wrk script: create tasks, each request with an Idempotency-Key of its own
-- (a prefix per thread and run, then a counter), so none is a replay.
wrk.method = "POST"
wrk.body = '{"title": "Benchmark task", "priority": "high", "tags": ["bench"]}'
wrk.headers["Content-Type"] = "application/json"

local prefix
local counter = 0

function init(args)
  local seed = os.time() + math.floor(os.clock() * 1e6) + tonumber(tostring({}):match("0x(%x+)"), 16)
  math.randomseed(seed)
  prefix = string.format("bench-%d-%08x", os.time(), math.random(0, 0x7fffffff))
end

function request()
  counter = counter + 1
  wrk.headers["Idempotency-Key"] = prefix .. "-" .. counter
  return wrk.format()
end
