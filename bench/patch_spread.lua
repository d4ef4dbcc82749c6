-- wrk script: toggles (PATCH .../complete, no body) spread over the user's 20
-- tasks (ids first..first+19; the URL names the first), each thread in turn
-- from a place of its own: writes that do not wait for each other's row.
wrk.method = "PATCH"

local base, first
local counter = 0

function init(args)
  local prefix, id = wrk.path:match("^(.*/tasks/)(%d+)/complete$")
  base, first = prefix, tonumber(id)
  math.randomseed(os.time() + tonumber(tostring({}):match("0x(%x+)"), 16))
  counter = math.random(0, 19)
end

function request()
  counter = counter + 1
  return wrk.format(nil, base .. (first + counter % 20) .. "/complete")
end
