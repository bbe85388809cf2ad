-- The subset of the Cameron's Connect app schema that Connect Observability reads and backs up.
-- For development, tests and the demo only: production already has these tables, and
-- `npm run db:migrate` never applies this file.

CREATE TABLE IF NOT EXISTS public.stores (
  id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  slug        text NOT NULL UNIQUE,
  name        text NOT NULL,
  created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS public.orders (
  id               uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  store_id         uuid NOT NULL REFERENCES public.stores (id),
  customer_name    text,
  status           text NOT NULL DEFAULT 'pending'
                   CHECK (status IN ('pending', 'confirmed', 'preparing', 'ready', 'completed', 'cancelled')),
  payment_status   text NOT NULL DEFAULT 'pending'
                   CHECK (payment_status IN ('pending', 'paid', 'failed', 'refunded')),
  payment_provider text,
  total            numeric(10, 2) NOT NULL DEFAULT 0,
  created_at       timestamptz NOT NULL DEFAULT now(),
  updated_at       timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX IF NOT EXISTS orders_store_created_idx ON public.orders (store_id, created_at);

-- The other tables of the app that the backup covers (the reference report's twelve), with
-- just enough columns and foreign keys to make the backup's dependency order real.
CREATE TABLE IF NOT EXISTS public.menu_categories (
  id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  store_id    uuid NOT NULL REFERENCES public.stores (id) ON DELETE CASCADE,
  name        text NOT NULL,
  sort_order  integer NOT NULL DEFAULT 0,
  created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS public.menu_items (
  id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  store_id      uuid NOT NULL REFERENCES public.stores (id) ON DELETE CASCADE,
  category_id   uuid REFERENCES public.menu_categories (id) ON DELETE SET NULL,
  name          text NOT NULL,
  description   text,
  price         numeric(10, 2) NOT NULL,
  is_available  boolean NOT NULL DEFAULT true,
  created_at    timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS public.menu_item_customizations (
  id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  menu_item_id  uuid NOT NULL REFERENCES public.menu_items (id) ON DELETE CASCADE,
  name          text NOT NULL,
  options       jsonb NOT NULL DEFAULT '[]'::jsonb,
  price_delta   numeric(10, 2) NOT NULL DEFAULT 0,
  is_required   boolean NOT NULL DEFAULT false
);

CREATE TABLE IF NOT EXISTS public.ingredient_templates (
  id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  store_id     uuid REFERENCES public.stores (id) ON DELETE CASCADE,
  name         text NOT NULL,
  ingredients  jsonb NOT NULL DEFAULT '[]'::jsonb,
  created_at   timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS public.customers (
  id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  store_id    uuid REFERENCES public.stores (id),
  full_name   text,
  email       text,
  phone       text,
  created_at  timestamptz NOT NULL DEFAULT now()
);

-- On Supabase, user_profiles.id is also auth.users.id; that reference is left out here.
CREATE TABLE IF NOT EXISTS public.user_profiles (
  id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  store_id    uuid REFERENCES public.stores (id),
  full_name   text,
  role        text NOT NULL DEFAULT 'staff' CHECK (role IN ('customer', 'staff', 'manager', 'admin')),
  created_at  timestamptz NOT NULL DEFAULT now()
);

ALTER TABLE public.orders ADD COLUMN IF NOT EXISTS customer_id uuid REFERENCES public.customers (id);

CREATE TABLE IF NOT EXISTS public.order_items (
  id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  order_id    uuid NOT NULL REFERENCES public.orders (id) ON DELETE CASCADE,
  name        text NOT NULL,
  quantity    integer NOT NULL CHECK (quantity > 0),
  unit_price  numeric(10, 2) NOT NULL
);

ALTER TABLE public.order_items ADD COLUMN IF NOT EXISTS menu_item_id uuid REFERENCES public.menu_items (id) ON DELETE SET NULL;
CREATE INDEX IF NOT EXISTS order_items_order_idx ON public.order_items (order_id);

-- Phase 9's alert rules (migrations/063_alert_rules.sql), still in the app's database; the
-- rules themselves now live in prometheus/rules/, the table is only backed up.
CREATE TABLE IF NOT EXISTS public.alert_rules (
  id                uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  name              text NOT NULL UNIQUE,
  metric_type       text NOT NULL,
  condition         text NOT NULL,
  threshold         numeric NOT NULL,
  window_minutes    integer NOT NULL DEFAULT 5,
  severity          text NOT NULL DEFAULT 'warning',
  channels          text[] NOT NULL DEFAULT ARRAY['email'],
  cooldown_minutes  integer NOT NULL DEFAULT 30,
  enabled           boolean NOT NULL DEFAULT true,
  last_triggered_at timestamptz,
  created_at        timestamptz NOT NULL DEFAULT now()
);

-- The app keeps updated_at current on every change; the observability views use it as
-- "in this status since" (see sql/migrations/005_order_observability.sql).
CREATE OR REPLACE FUNCTION public.touch_updated_at() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  NEW.updated_at := now();
  RETURN NEW;
END $$;

DROP TRIGGER IF EXISTS orders_touch_updated_at ON public.orders;
CREATE TRIGGER orders_touch_updated_at
  BEFORE UPDATE ON public.orders
  FOR EACH ROW
  WHEN (NEW.updated_at IS NOT DISTINCT FROM OLD.updated_at)
  EXECUTE FUNCTION public.touch_updated_at();
