import { createContext, useContext } from "react";
import type { Me } from "./types";

// Who is signed in and what they may change, for the pages that offer actions.
export const MeContext = createContext<Me | null>(null);

export function useMe(): Me | null {
  return useContext(MeContext);
}
