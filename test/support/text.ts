/** Removes the ANSI colour codes Nest's pretty logger writes, so log lines can be matched as text. */
// eslint-disable-next-line no-control-regex -- ESC (0x1b) is exactly what starts an ANSI colour code
export const stripColors = (text: string) => text.replace(/\x1b\[[0-9;]*m/g, '');
