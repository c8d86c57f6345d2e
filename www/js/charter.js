// The charter in force, read from the governance API when present, else from the genesis.
export function charterOf(c) {
  const charter = (c.has('charterInForce') ? c.read('charterInForce', null) : null) ?? c.read('charter', null) ?? {};
  // A charter may give each value as {value, setBy}; flatten for display.
  const flat = {};
  for (const [k, v] of Object.entries(charter)) flat[k] = v && typeof v === 'object' && 'value' in v ? v.value : v;
  return flat;
}
