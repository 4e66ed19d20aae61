// `minid rmi`: the image commands know nothing of containers; this is where the two meet, so
// that an image in use by a container is refused.
import { rmi as rmiImages, setImageUsageProbe } from './image.js';
import { imageInUse } from '../../runtime/container.js';

export async function rmi(refs: string[], opts: { force?: boolean }) {
  setImageUsageProbe(imageInUse);
  return rmiImages(refs, opts);
}
