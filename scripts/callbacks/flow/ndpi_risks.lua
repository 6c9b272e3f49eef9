--
-- ndpi_risks: flows for which nDPI reported risks (flow.getRisk(), the ndpi_risk bitmap of
-- nDPI 4.2: bit N = ndpi_risk_enum value N). The alert lists the risks by name; its score is
-- nDPI's risk score of the flow. Checked when nDPI is done and again in periodicUpdate and
-- flowEnd (risks known late); raised once per flow.
--
-- Risks can be ignored by key, enum name, nDPI text or number in
-- <data-dir>/scripts_config.json:
--   {"flow": {"ndpi_risks": {"value": {"ignored_risks": ["known_protocol_on_non_standard_port",
--                                                        "NDPI_TLS_MISSING_SNI", 31]}}}}
--
local user_scripts = require "user_scripts"

local STATUS = "ndpi_risk"

local script = {
   category = user_scripts.script_categories.security,
   default_enabled = true,
   default_value = { ignored_risks = {} },
   gui = {
      i18n_title = "nDPI Flow Risks",
      i18n_description = "Flows for which nDPI detected risks (obsolete TLS/SSH, missing SNI, ...)",
      input_builder = user_scripts.items_list_input_builder,
      input_title = "Ignored risks",
      input_description = "Risks not to report: keys, NDPI_* names, nDPI texts or numbers",
   },
   hooks = {},
}

-- ndpi_risk_enum of nDPI 4.2 (ndpi_typedefs.h): index = bit, { key, nDPI's ndpi_risk2str,
-- nDPI's score of the risk (its severity in ndpi_known_risks[]: low 10, medium 50, high 100,
-- severe 250) }.
local RISKS = {
   [1] = { "url_possible_xss", "XSS Attack", 250 },
   [2] = { "url_possible_sql_injection", "SQL Injection", 250 },
   [3] = { "url_possible_rce_injection", "RCE Injection", 250 },
   [4] = { "binary_application_transfer", "Binary Application Transfer", 250 },
   [5] = { "known_protocol_on_non_standard_port", "Known Protocol on Non Standard Port", 50 },
   [6] = { "tls_selfsigned_certificate", "Self-signed Certificate", 100 },
   [7] = { "tls_obsolete_version", "Obsolete TLS Version (1.1 or older)", 100 },
   [8] = { "tls_weak_cipher", "Weak TLS Cipher", 100 },
   [9] = { "tls_certificate_expired", "TLS Expired Certificate", 100 },
   [10] = { "tls_certificate_mismatch", "TLS Certificate Mismatch", 100 },
   [11] = { "http_suspicious_user_agent", "HTTP Suspicious User-Agent", 100 },
   [12] = { "http_numeric_ip_host", "HTTP Numeric IP Address", 10 },
   [13] = { "http_suspicious_url", "HTTP Suspicious URL", 100 },
   [14] = { "http_suspicious_header", "HTTP Suspicious Header", 100 },
   [15] = { "tls_not_carrying_https", "TLS (probably) Not Carrying HTTPS", 10 },
   [16] = { "suspicious_dga_domain", "Suspicious DGA Domain name", 100 },
   [17] = { "malformed_packet", "Malformed Packet", 10 },
   [18] = { "ssh_obsolete_client_version_or_cipher", "SSH Obsolete Client Version/Cipher", 100 },
   [19] = { "ssh_obsolete_server_version_or_cipher", "SSH Obsolete Server Version/Cipher", 50 },
   [20] = { "smb_insecure_version", "SMB Insecure Version", 100 },
   [21] = { "tls_suspicious_esni_usage", "TLS Suspicious ESNI Usage", 50 },
   [22] = { "unsafe_protocol", "Unsafe Protocol", 10 },
   [23] = { "dns_suspicious_traffic", "Suspicious DNS Traffic", 100 },
   [24] = { "tls_missing_sni", "Missing SNI TLS Extension", 50 },
   [25] = { "http_suspicious_content", "HTTP Suspicious Content", 100 },
   [26] = { "risky_asn", "Risky ASN", 50 },
   [27] = { "risky_domain", "Risky Domain Name", 50 },
   [28] = { "malicious_ja3", "Possibly Malicious JA3 Fingerprint", 50 },
   [29] = { "malicious_sha1_certificate", "Possibly Malicious SSL Cert. SHA1 Fingerprint", 50 },
   [30] = { "desktop_or_file_sharing_session", "Desktop/File Sharing Session", 10 },
   [31] = { "tls_uncommon_alpn", "Uncommon TLS ALPN", 50 },
   [32] = { "tls_cert_validity_too_long", "TLS Certificate Validity Too Long", 50 },
   [33] = { "tls_suspicious_extension", "TLS Suspicious Extension", 100 },
   [34] = { "tls_fatal_alert", "TLS Fatal Alert", 10 },
   [35] = { "suspicious_entropy", "Suspicious Entropy", 50 },
   [36] = { "clear_text_credentials", "Clear-Text Credentials", 100 },
   [37] = { "dns_large_packet", "DNS Packet Larger Than 512 bytes", 50 },
   [38] = { "dns_fragmented", "Fragmented DNS Message", 50 },
   [39] = { "invalid_characters", "Text Contains Non-Printable Characters", 100 },
   [40] = { "possible_exploit", "Possible Exploit Detected", 250 },
   [41] = { "tls_certificate_about_to_expire", "TLS Certificate About To Expire", 50 },
}

-- "NDPI_TLS_MISSING_SNI", "tls_missing_sni", "Missing SNI TLS Extension" -> one spelling.
local function normalize(name)
   return (name:lower():gsub("^ndpi_", ""):gsub("[^%w]+", "_"):gsub("^_", ""):gsub("_$", ""))
end

local BY_NAME = {}
for bit, r in pairs(RISKS) do
   BY_NAME[r[1]] = bit
   BY_NAME[normalize(r[2])] = bit
end

-- config.ignored_risks as a bitmap, once per configuration table.
local masks = setmetatable({}, { __mode = "k" })
local function ignored_mask(config)
   local m = masks[config]
   if m then return m end
   m = 0
   local list = config.ignored_risks
   if type(list) == "string" then
      local t = {}
      for e in list:gmatch("[^,]+") do t[#t + 1] = e:match("^%s*(.-)%s*$") end
      list = t
   end
   for _, e in ipairs(type(list) == "table" and list or {}) do
      local bit = math.tointeger(tonumber(e)) or (type(e) == "string" and BY_NAME[normalize(e)])
      if bit and bit >= 1 and bit <= 63 then
         m = m | (1 << bit)
      else
         print("ignored_risks: unknown nDPI risk '" .. tostring(e) .. "'")
      end
   end
   masks[config] = m
   return m
end

-- Flows that raised the status (interface id -> flow id -> true) until their flowEnd.
local raised = {}

local function check(config, ending)
   local all = flow.getRisk()
   if not all or all == 0 then return end
   local risk = all & ~ignored_mask(config)
   if risk == 0 then return end
   local ifid, fid = flow.getInterfaceId(), flow.getFlowId()
   local done = raised[ifid]
   if done and done[fid] then return end
   if not ending then
      if not done then
         done = {}
         raised[ifid] = done
      end
      done[fid] = true
   end
   local names, list, sum = {}, {}, 0
   for bit = 1, 63 do
      if risk & (1 << bit) ~= 0 then
         local r = RISKS[bit]
         local key, text = r and r[1] or ("risk_" .. bit), r and r[2] or ("Risk " .. bit)
         local score = r and r[3] or 10
         sum = sum + score
         names[#names + 1] = text
         list[#list + 1] = { id = bit, key = key, name = text, score = score }
      end
   end
   -- nDPI's own score when every risk is reported, else the sum of the reported ones
   local ndpi_score = flow.getRiskScore() or 0
   local score = (risk == all and ndpi_score > 0) and ndpi_score or sum
   flow.triggerStatus(STATUS, {
      message = string.format("nDPI risks on %s:%d -> %s:%d %s: %s", flow.getClientIp(),
                              flow.getClientPort(), flow.getServerIp(), flow.getServerPort(),
                              flow.getL7ProtoName() or "", table.concat(names, ", ")),
      risk = all,
      reported_risk = risk,
      risk_score = ndpi_score,
      risks = list,
   }, score, score // 2, score // 2)
end

function script.hooks.protocolDetected(now, config)
   check(config, false)
end

function script.hooks.periodicUpdate(now, config)
   check(config, false)
end

function script.hooks.flowEnd(now, config)
   local done = raised[flow.getInterfaceId()]
   local fid = flow.getFlowId()
   if done and done[fid] then
      done[fid] = nil
      return
   end
   check(config, true)
end

return script
