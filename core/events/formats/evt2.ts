// PLACEHOLDER: being implemented. Replace this whole file.
import type { EventFormat } from '../reader.ts';
import { EventFormatError } from '../errors.ts';

export const evt2Format: EventFormat = {
  id: 'evt2',
  name: 'evt2',
  extensions: [],
  probe: () => 0,
  open: async () => {
    throw new EventFormatError('evt2', 0, 'not implemented yet');
  },
};
