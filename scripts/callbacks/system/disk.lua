--
-- disk: the file system of the collector's data directory (alerts.db) is running full: its
-- free space in percent falls below a threshold, 10 by default. Engaged while below; released
-- by the first round above it.
--
-- Configuration (<data-dir>/scripts_config.json), e.g. 20 %:
--   {"system": {"disk": {"value": "disk;lt;20"}}}
--
local alerts_api = require "alerts_api"
local user_scripts = require "user_scripts"
require "lua_utils"

local script = {
   category = user_scripts.script_categories.system,
   default_enabled = true,
   default_value = "disk;lt;10",
   gui = {
      i18n_title = "Disk Space",
      i18n_description = "Free space of the data directory's file system falls below a "
         .. "threshold",
      input_builder = user_scripts.threshold_cross_input_builder,
      field_min = 0,
      field_max = 100,
      field_operator = "lt",
      i18n_field_unit = user_scripts.field_units.percentage,
   },
   hooks = {},
}

function script.hooks.min(params)
   local info = params.entity_info
   local disk = info.disk
   if not disk.free_pct then return end -- statvfs failed
   local conf = params.user_script_config
   alerts_api.checkThresholdAlert(params, "disk_space", disk.free_pct, {
      score = 60,
      message = string.format("Disk of %s (%s): %.1f %% free (%s of %s; threshold %s %s %%)",
                              info.hostname, disk.path, disk.free_pct, bytesToSize(disk.free),
                              bytesToSize(disk.total), conf.operator or "lt",
                              tostring(conf.threshold)),
      json = { path = disk.path, free = disk.free, total = disk.total },
   })
end

return script
