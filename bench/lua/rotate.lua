-- Requests for one workload and one system, rotating over pre-encoded bodies
-- (and, for W1, one token per customer). The prelude written by bench/wrk.py
-- defines: path, bodies (a table of JSON strings), auth (a table of header
-- values, or nil), and start (where this run begins in the rotation).
position = start
local threads = 0

setup = function(thread)
  -- Threads start at different places in the rotation.
  threads = threads + 1
  thread:set("position", start + 37 * threads)
end

request = function()
  position = position % #bodies + 1
  local headers = { ["Content-Type"] = "application/json" }
  if auth then headers["Authorization"] = auth[position] end
  return wrk.format("POST", path, headers, bodies[position])
end
