/** Small DOM and formatting helpers shared by the two pages. */

/** The element with `id`; a missing one is a bug in the page's HTML, so it throws at start-up. */
export function byId<T extends HTMLElement = HTMLElement>(id: string): T {
  const element = document.getElementById(id);
  if (!element) throw new Error(`page is missing #${id}`);
  return element as T;
}

/** Sets the element's text and `data-state` together, so tests and CSS read the same state users see. */
export function show(element: HTMLElement, state: string, text: string): void {
  element.dataset.state = state;
  element.textContent = text;
}

export function formatKbps(kbps: number): string {
  return kbps >= 1000 ? `${(kbps / 1000).toFixed(1)} Mbit/s` : `${Math.round(kbps)} kbit/s`;
}

/** "42 s", "3 min", "1 h 05 min": how long something has been going on. */
export function formatElapsed(ms: number): string {
  const seconds = Math.max(0, Math.floor(ms / 1000));
  if (seconds < 60) return `${seconds} s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) return `${minutes} min`;
  return `${Math.floor(minutes / 60)} h ${String(minutes % 60).padStart(2, '0')} min`;
}

export function formatClock(date: Date): string {
  return date.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
}

export function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** Peer ids are socket.io ids; anything else in a URL is not one of ours. */
export const PEER_ID_PATTERN = /^[A-Za-z0-9_-]{1,64}$/;
