// PLACEHOLDER: being implemented. Replace this whole file.
import type { EventFormat } from '../reader.ts';
import { EventFormatError } from '../errors.ts';

export const evt3Format: EventFormat = {
  id: 'evt3',
  name: 'evt3',
  extensions: [],
  probe: () => 0,
  open: async () => {
    throw new EventFormatError('evt3', 0, 'not implemented yet');
  },
};
