--
-- suricata.lua: Suricata Eve JSON over syslog (app name "suricata", or bare Eve JSON lines).
--
--   alert          -> a collector alert (signature, severity, category, 5-tuple, community
--                     id) on the Suricata flow; and, when a probe exported a flow with the
--                     same Community ID (active or ended in the last 10 minutes), the same
--                     verdict as a flow alert of that probe flow.
--   flow, netflow  -> flows of the interface "syslog:suricata", so flow scripts run on them.
--   dns, http, tls -> server name and L7 protocol of that Suricata flow.
--   stats          -> the interface statistics of "syslog:suricata" (packets, drops).
-- Malformed JSON is counted (syslog.counters["suricata/malformed_json"]) and skipped.
--
local cjson = require "cjson.safe"
local alerts_api = require "alerts_api"
local zs = require "zflow_syslog"

local suricata = {
   gui = {
      i18n_title = "Suricata Eve JSON",
      i18n_description = "Turns Suricata alerts, flows and protocol records into zflow alerts "
         .. "and flows, and joins IDS verdicts with probe flows by Community ID",
   },
   hooks = {},
}

local decode = cjson.decode
local format = string.format
local floor = math.floor
local tointeger = math.tointeger

-- cjson decodes every JSON number as a float: `tointeger(v) or v` turns an integral one back
-- into an integer, so that ports print as "80" (not "80.0") in messages and flow ids keep all
-- their digits in entity values (tostring() writes a float with 14 significant digits).
-- (Numeric text becomes an integer too; anything else stays as it is.) Written out where
-- used: a Lua function call per value costs more than the conversion.

-- days since 1970-01-01 of a civil date (proleptic Gregorian)
local function days_from_civil(y, m, d)
   if m <= 2 then y = y - 1 end
   local era = floor(y / 400)
   local yoe = y - era * 400
   local mp = (m + 9) % 12
   local doy = floor((153 * mp + 2) / 5) + d - 1
   local doe = yoe * 365 + floor(yoe / 4) - floor(yoe / 100) + doy
   return era * 146097 + doe - 719468
end

-- "2011-08-12T14:53:47.928539+0200" (or +02:00, or Z) -> seconds since the epoch (float)
local function eve_time_any(s)
   local y, mo, d, h, mi, sec, frac, rest =
      s:match("^(%d+)-(%d+)-(%d+)T(%d+):(%d+):(%d+)(%.?%d*)(.*)$")
   if not y then return nil end
   local t = days_from_civil(tonumber(y), tonumber(mo), tonumber(d)) * 86400
      + tonumber(h) * 3600 + tonumber(mi) * 60 + tonumber(sec)
   if frac ~= "" and frac ~= "." then t = t + tonumber("0" .. frac) end
   local sign, oh, om = rest:match("^([+-])(%d%d):?(%d%d)$")
   if sign then
      local off = tonumber(oh) * 3600 + tonumber(om) * 60
      if sign == "+" then t = t - off else t = t + off end
   end
   return t
end

local zs_eve_time = zs.eve_time

-- eve_time_any(), with Eve's fixed layout read in C (zflow_syslog.eve_time: the same value,
-- for a fraction of the cost of the pattern captures); any other layout here. The handlers
-- call `zs_eve_time(s) or eve_time(s)`: the usual layout without a Lua call.
local function eve_time(s)
   local t = zs_eve_time(s) -- nil for a value that is no string, too
   if t == nil and type(s) == "string" then return eve_time_any(s) end
   return t
end

-- Suricata severity 1 (high) .. 3 (low) -> score
local score_of = { [1] = 100, [2] = 50, [3] = 10 }

local function l7_name(app_proto)
   if type(app_proto) ~= "string" or app_proto == "failed" or app_proto == "" then
      return nil
   end
   return app_proto:upper()
end

local reason_of = { timeout = 1, forced = 5, shutdown = 5 }

-- The tables handed to the collector (zflow_syslog.flow, alerts_api) are copied by it before
-- the call returns: one of each is filled again for every event instead of a new one made.
local rec = {}

-- The Suricata flow of an event, as a zflow flow record (the shared `rec`, every field set).
-- The addresses of an alert are those of the packet that matched: for a packet of the server
-- (direction "to_client") they are the flow's reversed; Suricata 7 also gives the flow's own in
-- flow.src_ip/dest_ip/... .
local function flow_record(ev, event)
   if type(ev.flow_id) ~= "number" or type(ev.src_ip) ~= "string"
      or type(ev.dest_ip) ~= "string" then
      return nil
   end
   local cip, sip, cport, sport = ev.src_ip, ev.dest_ip, ev.src_port, ev.dest_port
   local f = ev.flow
   if type(f) == "table" and type(f.src_ip) == "string" and type(f.dest_ip) == "string" then
      cip, sip, cport, sport = f.src_ip, f.dest_ip, f.src_port, f.dest_port
   elseif ev.direction == "to_client" then
      cip, sip, cport, sport = sip, cip, sport, cport
   end
   rec.event = event
   rec.flow_id = floor(ev.flow_id)
   rec.client_ip = cip
   rec.server_ip = sip
   rec.client_port = tonumber(cport) or 0
   rec.server_port = tonumber(sport) or 0
   rec.l4_proto = ev.proto or 0
   rec.community_id = ev.community_id
   rec.l7_proto_name = l7_name(ev.app_proto)
   rec.c2s_packets, rec.s2c_packets, rec.c2s_bytes, rec.s2c_bytes = nil, nil, nil, nil
   rec.first_seen, rec.last_seen, rec.end_reason, rec.server_name = nil, nil, nil, nil
   return rec
end

local function emit(rec)
   local ok, err = zs.flow(rec) -- false and the reason for a record with a bad field
   if not ok then zs.count("bad_flow") end
   return ok, err
end

local function handle_flow(ev)
   local rec = flow_record(ev, "end")
   if not rec then zs.count("bad_flow"); return end
   local f = ev.flow or ev.netflow
   if type(f) == "table" then
      if ev.event_type == "netflow" then
         rec.c2s_packets = tonumber(f.pkts) or 0
         rec.c2s_bytes = tonumber(f.bytes) or 0
      else
         rec.c2s_packets = tonumber(f.pkts_toserver) or 0
         rec.s2c_packets = tonumber(f.pkts_toclient) or 0
         rec.c2s_bytes = tonumber(f.bytes_toserver) or 0
         rec.s2c_bytes = tonumber(f.bytes_toclient) or 0
      end
      local start, stop = f.start, f["end"]
      rec.first_seen = zs_eve_time(start) or eve_time(start)
      rec.last_seen = zs_eve_time(stop) or eve_time(stop)
      rec.end_reason = reason_of[f.reason] or 1
      if f.state == "closed" and rec.l4_proto == "TCP" then rec.end_reason = 2 end
   end
   emit(rec)
end

-- "signature [category] src:port -> dst:port". Concatenation writes strings and numbers as
-- tostring() and format("%s") do, for less than format(), and raises on any other value.
local function alert_message(sig, cat, sip, sport, dip, dport)
   return sig .. " [" .. cat .. "] " .. sip .. ":" .. sport .. " -> " .. dip .. ":" .. dport
end

-- an alert's details (alerts_api.toJSON), description and entity, filled for each alert
local details = {
   signature = false, signature_id = false, rev = false, category = false, severity = false,
   action = false, src_ip = false, src_port = false, dest_ip = false, dest_port = false,
   proto = false, app_proto = false, community_id = false, flow_id = false, timestamp = false,
}
local alert_info = { alert_type = "ids_alert", score = 0, message = "", json = "" }
local flow_entity = { entity = "flow", entity_value = "" }

local function handle_alert(ev)
   local a = ev.alert
   if type(a) ~= "table" then zs.count("bad_alert"); return end
   local sev = tonumber(a.severity) or 3
   local score = score_of[sev] or 10
   local sp, dp, fid, sid, rev = ev.src_port, ev.dest_port, ev.flow_id, a.signature_id, a.rev
   local src_port, dest_port, flow_id = tointeger(sp) or sp, tointeger(dp) or dp,
      tointeger(fid) or fid
   local d = details
   d.signature, d.signature_id, d.rev = a.signature, tointeger(sid) or sid, tointeger(rev) or rev
   d.category, d.severity, d.action = a.category, tointeger(sev) or sev, a.action
   d.src_ip, d.src_port, d.dest_ip, d.dest_port = ev.src_ip, src_port, ev.dest_ip, dest_port
   d.proto, d.app_proto, d.community_id = ev.proto, ev.app_proto, ev.community_id
   d.flow_id, d.timestamp = flow_id, ev.timestamp
   local json = alerts_api.toJSON(d)
   local sig, cat, sport, dport = a.signature or "alert", a.category or "", src_port or "",
      dest_port or ""
   local ok, message = pcall(alert_message, sig, cat, ev.src_ip, sport, ev.dest_ip, dport)
   if not ok then -- a value that is no string or number: as tostring() writes it
      message = format("%s [%s] %s:%s -> %s:%s", sig, cat, ev.src_ip, sport, ev.dest_ip, dport)
   end
   -- the alert belongs to the Suricata flow: make sure that flow exists
   local rec = flow_record(ev, "update")
   if rec then
      local f = ev.flow
      if type(f) == "table" then
         rec.c2s_packets = tonumber(f.pkts_toserver) or 0
         rec.s2c_packets = tonumber(f.pkts_toclient) or 0
         rec.c2s_bytes = tonumber(f.bytes_toserver) or 0
         rec.s2c_bytes = tonumber(f.bytes_toclient) or 0
         local start = f.start
         rec.first_seen = zs_eve_time(start) or eve_time(start)
      end
      local ts = ev.timestamp
      rec.last_seen = zs_eve_time(ts) or eve_time(ts)
      emit(rec)
   end
   -- one alert description for both: neither changes it
   local info = alert_info
   info.score, info.message, info.json = score, message, json
   flow_entity.entity_value = ev.community_id or tostring(flow_id or "")
   alerts_api.store(flow_entity, info)
   if type(ev.community_id) == "string" then zs.attach_alert(ev.community_id, info) end
end

local server_name_of = {
   dns = function(ev)
      local d = ev.dns
      if type(d) ~= "table" then return nil end
      if type(d.rrname) == "string" then return d.rrname end
      if type(d.queries) == "table" and type(d.queries[1]) == "table" then
         return d.queries[1].rrname
      end
   end,
   http = function(ev) return type(ev.http) == "table" and ev.http.hostname or nil end,
   tls = function(ev) return type(ev.tls) == "table" and ev.tls.sni or nil end,
}

local function handle_enrich(ev)
   local rec = flow_record(ev, "update")
   if not rec then zs.count("bad_flow"); return end
   local name = server_name_of[ev.event_type](ev)
   if type(name) == "string" then rec.server_name = name end
   rec.l7_proto_name = ev.event_type:upper()
   local ts = ev.timestamp
   rec.last_seen = zs_eve_time(ts) or eve_time(ts)
   emit(rec)
end

-- A stats event is large (15-40 KB: ~1,000 counters, per thread too) and six of its counters
-- are used: zflow_syslog.json_pick reads them in one pass without decoding the rest.
local stats_paths = {
   "event_type", "stats.decoder.pkts", "stats.decoder.bytes", "stats.capture.kernel_packets",
   "stats.capture.kernel_drops", "stats.decoder.invalid", "stats.flow.active",
}

local function counter(v, path)
   local n = v[path]
   return math.type(n) == "integer" and n or floor(tonumber(n) or 0)
end

-- true when the text was a stats event (handled or counted), false when it is another one
local function handle_stats(message)
   local v = zs.json_pick(message, stats_paths)
   if not v then zs.count("malformed_json"); return true end
   if v.event_type ~= "stats" then return false end
   if next(v, next(v)) == nil then
      -- event_type alone: no totals (e.g. only the per-thread "threads" object), which must
      -- not read as zero packets
      zs.count("stats_no_totals")
      return true
   end
   zs.stats({
      packets = counter(v, "stats.decoder.pkts"),
      bytes = counter(v, "stats.decoder.bytes"),
      pcap_recv = counter(v, "stats.capture.kernel_packets"),
      pcap_drop = counter(v, "stats.capture.kernel_drops"),
      decode_errors = counter(v, "stats.decoder.invalid"),
      active_flows = counter(v, "stats.flow.active"),
   })
   return true
end

local handlers = {
   alert = handle_alert,
   flow = handle_flow,
   netflow = handle_flow,
   dns = handle_enrich,
   http = handle_enrich,
   tls = handle_enrich,
}

local find, match = string.find, string.match

function suricata.hooks.handleEvent(message)
   -- An event type no handler takes (fileinfo, anomaly, ...) is counted without decoding
   -- it: Eve writes the top-level "event_type" before any nested object. (A plain find, then
   -- an anchored match: a pattern search tries its whole pattern at every byte before it.)
   local _, key_end = find(message, '"event_type"', 1, true)
   local etype = key_end and match(message, '^%s*:%s*"([%w_]+)"', key_end + 1)
   if etype == "stats" and handle_stats(message) then return end
   if etype and etype ~= "stats" and not handlers[etype] then
      zs.count("other_events")
      return
   end
   local ev = decode(message)
   if type(ev) ~= "table" then
      zs.count("malformed_json")
      return
   end
   local h = handlers[ev.event_type]
   if ev.event_type == "stats" then
      handle_stats(message)
   elseif h then
      h(ev)
   else
      zs.count("other_events")
   end
end

return suricata
