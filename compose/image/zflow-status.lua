#!/usr/bin/env lua5.4
-- Prints one line summarising a zflow-collector --status-file: per probe whether it is up, its
-- flow rate and the flows it has sent; syslog messages per source; alerts raised.
-- Usage: lua5.4 zflow-status.lua /var/lib/zflow/status.json
local cjson = require "cjson.safe"

local path = arg[1] or "/var/lib/zflow/status.json"
local f = io.open(path, "r")
if not f then
   io.stderr:write("zflow-status: cannot open " .. path .. "\n")
   os.exit(1)
end
local s = cjson.decode(f:read("a"))
f:close()
if type(s) ~= "table" then
   io.stderr:write("zflow-status: " .. path .. " is not JSON (being rewritten?)\n")
   os.exit(1)
end

local parts = {}
local registry = type(s.registry) == "table" and s.registry or {}
for _, p in ipairs(registry.probes or {}) do
   local flows = 0
   for _, i in ipairs(p.interfaces or {}) do flows = flows + (tonumber(i.flows_new) or 0) end
   parts[#parts + 1] = string.format("%s %s %.1f flows/s, %d flows", tostring(p.probe_id),
      p.up and "up" or "DOWN", tonumber(p.flows_per_s) or 0, flows)
end
if #parts == 0 then parts[1] = "no probe yet" end

local alerts = 0
for _, w in ipairs(s.workers or {}) do alerts = alerts + (tonumber(w.alerts) or 0) end

local syslog = {}
if type(s.syslog) == "table" and type(s.syslog.sources) == "table" then
   local names = {}
   for name in pairs(s.syslog.sources) do names[#names + 1] = name end
   table.sort(names)
   for _, name in ipairs(names) do
      syslog[#syslog + 1] = string.format("%s %d msgs", name,
         tonumber(s.syslog.sources[name].messages) or 0)
   end
   if (tonumber(s.syslog.attached) or 0) > 0 then
      syslog[#syslog + 1] = string.format("%d IDS alerts joined to probe flows",
         tonumber(s.syslog.attached))
   end
end

io.write(string.format("zflow [%6.0fs] %s | syslog: %s | alerts %d\n",
   tonumber(s.uptime_s) or 0, table.concat(parts, "; "),
   #syslog > 0 and table.concat(syslog, ", ") or "none yet", alerts))
io.stdout:flush()
