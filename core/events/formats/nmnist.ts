// PLACEHOLDER: being implemented. Replace this whole file.
import type { EventFormat } from '../reader.ts';
import { EventFormatError } from '../errors.ts';

export const nmnistFormat: EventFormat = {
  id: 'nmnist',
  name: 'nmnist',
  extensions: [],
  probe: () => 0,
  open: async () => {
    throw new EventFormatError('nmnist', 0, 'not implemented yet');
  },
};
