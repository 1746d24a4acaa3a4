-- wrk script: every write carries `depth` pipelined GETs of the same path (default 16).
local depth = 16
local batch

init = function(args)
  depth = tonumber(args[1]) or depth
  local requests = {}
  for i = 1, depth do
    requests[i] = wrk.format(nil, wrk.path)
  end
  batch = table.concat(requests)
end

request = function()
  return batch
end
