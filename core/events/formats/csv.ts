// PLACEHOLDER: being implemented. Replace this whole file.
import type { EventFormat } from '../reader.ts';
import { EventFormatError } from '../errors.ts';

export const csvFormat: EventFormat = {
  id: 'csv',
  name: 'csv',
  extensions: [],
  probe: () => 0,
  open: async () => {
    throw new EventFormatError('csv', 0, 'not implemented yet');
  },
};
