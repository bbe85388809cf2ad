// YAML for rule files as people write them: keys in Prometheus's order (record/alert, expr, for,
// labels, annotations; summary before description), plain scalars where YAML reads them back
// unchanged, 'quotes' elsewhere, PromQL over several lines as a | block, a blank line between
// rules. (std.manifestYamlDoc sorts keys and quotes every string.) The mixin test parses the
// output and compares it with the JSON jsonnet renders, for the default and an overridden _config.
// (jsonnet 0.18's std.member, std.find, std.findSubstr and std.sort are slow: sets and loops here.)
local keyOrder =
  ['groups', 'name', 'interval', 'limit', 'rules']
  + ['record', 'alert', 'expr', 'for', 'keep_firing_for', 'labels', 'annotations']
  + ['summary', 'description', 'runbook_url', 'dashboard_url'];
local ordered = { [key]: true for key in keyOrder };
local orderedFields(object) =
  [key for key in keyOrder if std.objectHas(object, key)]
  + [key for key in std.objectFields(object) if !std.objectHas(ordered, key)];

local setOf(s) = { [c]: true for c in std.stringChars(s) };
local plainStart = setOf('abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ(');
local durationChars = setOf('0123456789smhdwy');
local durationUnits = setOf('smhdwy');
local isControl(c) = std.codepoint(c) < 32 || std.codepoint(c) == 127;
local printable(s) = std.length([i for i in std.range(0, std.length(s) - 1) if isControl(s[i])]) == 0;
// YAML 1.1 and 1.2 booleans and nulls: as plain scalars they would not read back as strings.
local reserved = { y: true, n: true, yes: true, no: true, 'true': true, 'false': true, on: true, off: true, 'null': true };

// A string YAML reads back unchanged without quotes: it starts with a letter or '(' (or is a
// duration such as 45m), has no control character, ': ' or ' #', and does not end in ':' or a space.
local plainSafe(s) =
  local n = std.length(s);
  local breaks = [
    i
    for i in std.range(0, n - 1)
    if isControl(s[i]) || (i + 1 < n && ((s[i] == ':' && s[i + 1] == ' ') || (s[i] == ' ' && s[i + 1] == '#')))
  ];
  local duration = std.length([c for c in std.stringChars(s) if !std.objectHas(durationChars, c)]) == 0
                   && std.objectHas(durationUnits, s[n - 1]);
  n > 0
  && (std.objectHas(plainStart, s[0]) || duration)
  && breaks == []
  && s[n - 1] != ':'
  && s[n - 1] != ' '
  && !(n <= 5 && std.objectHas(reserved, std.asciiLower(s)));

local quoted(s) =
  if printable(s) then "'" + std.strReplace(s, "'", "''") + "'"
  else std.escapeStringJson(s);

// Lines of a | block, or null when a block cannot carry the string exactly (so it is quoted).
local blockLines(s) =
  local lines = std.split(s, '\n');
  local body = if std.endsWith(s, '\n') then lines[:std.length(lines) - 1] else lines;
  if std.endsWith(s, '\n\n') || body[0] == '' || std.startsWith(body[0], ' ') || !printable(std.join('', body))
  then null
  else { indicator: if std.endsWith(s, '\n') then '|' else '|-', lines: body };

local scalar(v) =
  if std.isString(v) then (if plainSafe(v) then v else quoted(v))
  else std.manifestJsonMinified(v);

local spaces(n) = std.repeat(' ', n);

// value -> lines, every line indented by `indent`.
local rec(value, indent) =
  if std.isObject(value) && std.length(value) > 0 then
    std.flattenArrays([
      local v = value[key];
      local head = spaces(indent) + scalar(key) + ':';
      if (std.isObject(v) || std.isArray(v)) && std.length(v) > 0 then [head] + rec(v, indent + 2)
      else if std.isString(v) && std.length(std.split(v, '\n')) > 1 && blockLines(v) != null then
        local block = blockLines(v);
        [head + ' ' + block.indicator] + [if line == '' then '' else spaces(indent + 2) + line for line in block.lines]
      else [head + ' ' + (if std.isObject(v) then '{}' else if std.isArray(v) then '[]' else scalar(v))]
      for key in orderedFields(value)
    ])
  else if std.isArray(value) then
    std.flattenArrays([
      local item = value[i];
      // A mapping item: its lines at indent + 2, the first one's indentation turned into '- '.
      local lines =
        if std.isObject(item) && std.length(item) > 0 then
          local inner = rec(item, indent + 2);
          [spaces(indent) + '- ' + std.lstripChars(inner[0], ' ')] + inner[1:]
        else [spaces(indent) + '- ' + scalar(item)];
      (if i > 0 && std.isObject(item) && std.length(item) > 1 then [''] else []) + lines
      for i in std.range(0, std.length(value) - 1)
    ])
  else [spaces(indent) + scalar(value)];

{
  // The YAML document of `value` (an object), after the comment lines of `header`.
  // (No final newline: jsonnet -S adds one.)
  manifest(value, header=[]):: std.join('\n', ['# ' + line for line in header] + rec(value, 0)),
}
