// A gauge without labels that has no sample until it is set. prom-client gives a label-less
// gauge a 0 sample even after reset(), which would serve a made-up 0 (say, a database size)
// when the collector could not read the real value.
import { Gauge, type GaugeConfiguration } from 'prom-client';

export interface OptionalGauge {
  set(value: number): void;
  clear(): void;
}

export function optionalGauge(config: Omit<GaugeConfiguration<string>, 'labelNames'>): OptionalGauge {
  const gauge = new Gauge(config);
  let present = false;
  const get = gauge.get.bind(gauge);
  gauge.get = async () => {
    const metric = await get();
    return present ? metric : { ...metric, values: [] };
  };
  return {
    set(value) {
      present = true;
      gauge.set(value);
    },
    clear() {
      present = false;
      gauge.reset();
    },
  };
}
