// Which module serves which listener role besides mx. Each protocol registers here as it lands.
import type { ProtocolStarter } from "./run.ts";
import type { Listener } from "../config/schema.ts";

export function protocolStarters(): Partial<Record<Listener["role"], ProtocolStarter>> {
  return {};
}
