--
-- alerts_api: raise alerts from user scripts. Alerts go to the collector's alert store.
--
--   local alerts_api = require "alerts_api"
--
--   -- who the alert is about
--   local entity = alerts_api.interfaceAlertEntity(interface.getName())
--   -- what it is
--   local alert = {
--      alert_type = "too_many_flows",          -- the alert's key
--      severity = alerts_api.alert_severities.warning,  -- or "warning"; default from score
--      score = 50,                             -- optional
--      message = "12000 flows > 10000",        -- one line
--      json = { flows = 12000, threshold = 10000 }, -- optional details (table or JSON text)
--   }
--
--   alerts_api.store(entity, alert)    -- one-shot: stored once
--   alerts_api.trigger(entity, alert)  -- engaged: stored once, refreshed while re-triggered
--   alerts_api.release(entity, alert)  -- the engaged alert ends
--   alerts_api.isEngaged(entity, alert)
--
-- entity_info is { entity = "interface"|"network"|"system"|"snmp_interface"|"host"|
-- "syslog"|..., entity_value = "..." }; ntopng's spelling { alert_entity = { entity_type =
-- ... } or "...", entity_val = "..." } is accepted too. type_info also accepts ntopng's
-- alert_severity / alert_type_params. The running script's key, the interface and the
-- probe are added by the engine. Every function returns true when the collector took it.
--
local c = require "zflow_alerts"
local alert_severities = require "alert_severities"

local alerts_api = {}

alerts_api.alert_severities = alert_severities

local function entity_of(entity_info)
   if type(entity_info) ~= "table" then
      error("alerts_api: entity_info must be a table", 3)
   end
   local entity = entity_info.entity or entity_info.alert_entity
   if type(entity) == "table" then
      entity = entity.entity_type or entity.key or entity.label
   end
   local value = entity_info.entity_value or entity_info.entity_val
   if entity == nil or value == nil then
      error("alerts_api: entity_info needs entity and entity_value", 3)
   end
   return tostring(entity), tostring(value)
end

local function description(entity_info, type_info, when)
   if type(type_info) ~= "table" then
      error("alerts_api: type_info must be a table", 3)
   end
   local entity, value = entity_of(entity_info)
   local alert_type = type_info.alert_type or type_info.type
   if type(alert_type) == "table" then
      alert_type = alert_type.alert_key or alert_type.key or alert_type.i18n_title
   end
   if alert_type == nil then
      error("alerts_api: type_info needs alert_type", 3)
   end
   local severity = type_info.severity or type_info.alert_severity
   return {
      entity = entity,
      entity_value = value,
      alert_type = tostring(alert_type),
      severity = severity,
      score = type_info.score,
      message = type_info.message,
      json = type_info.json or type_info.alert_type_params,
      when = when or type_info.when,
   }
end

-- One-shot alert, stored once.
function alerts_api.store(entity_info, type_info, when)
   return c.store(description(entity_info, type_info, when))
end

-- Engaged alert: stored when first triggered, refreshed while triggered again.
function alerts_api.trigger(entity_info, type_info, when)
   return c.trigger(description(entity_info, type_info, when))
end

-- Ends an engaged alert (no-op when it is not engaged).
function alerts_api.release(entity_info, type_info, when)
   return c.release(description(entity_info, type_info, when))
end

function alerts_api.isEngaged(entity_info, type_info)
   return c.isEngaged(description(entity_info, type_info))
end

-- The JSON text of a value, as stored in an alert's details.
alerts_api.toJSON = c.toJSON

-- Threshold alerts of periodic scripts (interface, network, system, snmp): compares `value`
-- with the script's configured threshold (params.user_script_config: operator "gt", "lt", ...
-- and threshold, from its default_value or scripts_config.json) and triggers the engaged alert
-- `alert_type` on params.alert_entity when it crosses, or releases it when it does not. (The
-- scheduler also releases an engaged alert that a round of its granularity did not trigger
-- again.) info (optional): { message = "...", json = {...}, score = 50, severity = ...,
-- entity = {entity = ..., entity_value = ...} }; json gets value, threshold and operator.
-- Returns true when the threshold is crossed.
--
--   function script.hooks.min(params)
--      alerts_api.checkThresholdAlert(params, "interface_throughput",
--                                     params.entity_info.throughput_bps)
--   end
function alerts_api.checkThresholdAlert(params, alert_type, value, info)
   local user_scripts = require "user_scripts"
   info = info or {}
   local conf = params.user_script_config or {}
   local entity = info.entity or params.alert_entity or params.entity_info
   local op = conf.operator or "gt"
   local threshold = tonumber(conf.threshold)
   local json = {}
   for k, v in pairs(info.json or {}) do json[k] = v end
   json.value, json.threshold, json.operator = value, threshold, op
   local alert = {
      alert_type = alert_type,
      score = info.score or 50,
      severity = info.severity,
      json = json,
      message = info.message or string.format("%s: %s %s %s", alert_type, tostring(value), op,
                                              tostring(threshold)),
   }
   if user_scripts.threshold_cross(conf, value) then
      alerts_api.trigger(entity, alert)
      return true
   end
   alerts_api.release(entity, alert)
   return false
end

-- Entity helpers.
function alerts_api.interfaceAlertEntity(name)
   return { entity = "interface", entity_value = tostring(name) }
end

function alerts_api.networkAlertEntity(cidr)
   return { entity = "network", entity_value = tostring(cidr) }
end

function alerts_api.systemAlertEntity(name)
   return { entity = "system", entity_value = tostring(name or "system") }
end

function alerts_api.hostAlertEntity(ip, vlan)
   local v = tostring(ip)
   if vlan and vlan ~= 0 then v = v .. "@" .. tostring(vlan) end
   return { entity = "host", entity_value = v }
end

function alerts_api.snmpInterfaceEntity(device, ifindex)
   return { entity = "snmp_interface", entity_value = tostring(device) .. "_ifidx" .. tostring(ifindex) }
end

function alerts_api.syslogAlertEntity(source)
   return { entity = "syslog", entity_value = tostring(source) }
end

return alerts_api
