// Finding a container for the everyday verbs (port, cp, rename, pause, top...): docker's CLI
// exits 1 for "no such container" (the daemon's answer), not 125.
import { MinidError } from '../errors.js';
import { findContainer, NoSuchContainerError, type ContainerState } from './state.js';

export function findContainerOr1(ref: string): ContainerState {
  try {
    return findContainer(ref);
  } catch (e) {
    if (e instanceof NoSuchContainerError) throw new MinidError(e.message, 1);
    throw e;
  }
}
