// PLACEHOLDER: being implemented. Replace this whole file.
import type { EventFormat } from '../reader.ts';
import { EventFormatError } from '../errors.ts';

export const aedat3Format: EventFormat = {
  id: 'aedat3',
  name: 'aedat3',
  extensions: [],
  probe: () => 0,
  open: async () => {
    throw new EventFormatError('aedat3', 0, 'not implemented yet');
  },
};
