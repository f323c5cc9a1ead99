// PLACEHOLDER: being implemented. Replace this whole file.
import type { EventFormat } from '../reader.ts';
import { EventFormatError } from '../errors.ts';

export const aedat2Format: EventFormat = {
  id: 'aedat2',
  name: 'aedat2',
  extensions: [],
  probe: () => 0,
  open: async () => {
    throw new EventFormatError('aedat2', 0, 'not implemented yet');
  },
};
