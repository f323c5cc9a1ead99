// PLACEHOLDER: being implemented. Replace this whole file.
import type { EventFormat } from '../reader.ts';
import { EventFormatError } from '../errors.ts';

export const aedat4Format: EventFormat = {
  id: 'aedat4',
  name: 'aedat4',
  extensions: [],
  probe: () => 0,
  open: async () => {
    throw new EventFormatError('aedat4', 0, 'not implemented yet');
  },
};
