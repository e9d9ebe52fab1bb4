-- W4: trackEvents batches. Every request carries `batch` view events with
-- fresh event ids, in a session of its own (an anonymous visitor's), over the
-- rotation of SKUs. The prelude defines: path, auth (one header value),
-- skus, batch, prefix (unique to this run and system), envelope ("graphql" or
-- "raw") and family (the token's family id, for the raw endpoint).
local n = 0
thread_id = 0
local threads = 0

setup = function(thread)
  threads = threads + 1
  thread:set("thread_id", threads)
end

-- THE event shape, the one place it is written (EventInput: type is the enum
-- EventType, at a DateTime).
local function view_event(event_id, session_id, sku, at)
  return '{"eventId":"' .. event_id .. '","type":"VIEW","at":"' .. at ..
         '","sessionId":"' .. session_id .. '","sku":"' .. sku .. '"}'
end

local graphql = '{"query":"mutation($events:[EventInput!]!){ trackEvents(events: $events)' ..
                ' { accepted duplicates rejected { index message } } }","variables":{"events":['

request = function()
  n = n + 1
  local session = prefix .. "-" .. thread_id .. "-" .. n
  local at = os.date("!%Y-%m-%dT%H:%M:%SZ")
  local events = {}
  for k = 1, batch do
    local sku = skus[(n * batch + k) % #skus + 1]
    events[k] = view_event(session .. "-" .. k, session, sku, at)
  end
  local body
  if envelope == "graphql" then
    body = graphql .. table.concat(events, ",") .. ']}}'
  else
    body = '{"family":"' .. family .. '","events":[' .. table.concat(events, ",") .. ']}'
  end
  return wrk.format("POST", path, {
    ["Content-Type"] = "application/json",
    ["Authorization"] = auth,
  }, body)
end
