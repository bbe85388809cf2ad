-- Demo data for the embedded database and local development: three stores, a week of
-- finished orders, a handful of active ones (two of them stuck) and a deployment history.
-- Applied only when the stores table is empty.

INSERT INTO public.stores (slug, name) VALUES
  ('downtown', 'Cameron''s Connect Downtown'),
  ('harbor',   'Cameron''s Connect Harbor'),
  ('uptown',   'Cameron''s Connect Uptown');

-- A week of finished orders: about 9 in 10 completed, the rest cancelled.
INSERT INTO public.orders (store_id, customer_name, status, payment_status, payment_provider, total, created_at, updated_at)
SELECT s.id,
       'Guest ' || g,
       CASE WHEN g % 10 = 0 THEN 'cancelled' ELSE 'completed' END,
       CASE WHEN g % 10 = 0 THEN 'refunded' ELSE 'paid' END,
       'stripe',
       round((8 + (g * 7919 % 4200) / 100.0)::numeric, 2),
       now() - make_interval(mins => 30 + g * 5),
       now() - make_interval(mins => 30 + g * 5) + make_interval(mins => 12 + g % 20)
  FROM generate_series(1, 2000) AS g
  JOIN public.stores s ON s.slug = (ARRAY['downtown', 'harbor', 'uptown'])[1 + g % 3];

-- Active orders, spread over statuses and stores.
INSERT INTO public.orders (store_id, customer_name, status, payment_status, payment_provider, total, created_at, updated_at)
SELECT s.id,
       'Walk-in ' || g,
       (ARRAY['pending', 'confirmed', 'preparing', 'ready'])[1 + g % 4],
       'paid',
       'stripe',
       round((10 + g * 1.75)::numeric, 2),
       now() - make_interval(mins => g),
       now() - make_interval(secs => g * 20)
  FROM generate_series(1, 14) AS g
  JOIN public.stores s ON s.slug = (ARRAY['downtown', 'harbor', 'uptown'])[1 + g % 3];

-- Two stuck orders: preparing for 50 minutes, ready for 75.
INSERT INTO public.orders (store_id, customer_name, status, payment_status, payment_provider, total, created_at, updated_at)
SELECT s.id, v.customer, v.status, 'paid', 'stripe', v.total,
       now() - make_interval(mins => v.age_minutes + 10), now() - make_interval(mins => v.age_minutes)
  FROM (VALUES ('downtown', 'Forgotten Fries', 'preparing', 50, 23.40),
               ('harbor',   'Cold Coffee',     'ready',     75, 6.80)) AS v(store, customer, status, age_minutes, total)
  JOIN public.stores s ON s.slug = v.store;

INSERT INTO public.deployment_log (deployment_id, environment, version, commit_sha, deployed_at, finished_at, status, smoke_test_passed)
VALUES
  ('dpl_demo_001', 'production', '1.8.0', '3f2a9c1', now() - interval '3 days', now() - interval '3 days' + interval '4 minutes', 'success', true),
  ('dpl_demo_002', 'production', '1.9.0', '8b41d07', now() - interval '1 day', now() - interval '1 day' + interval '3 minutes', 'rolled_back', false),
  ('dpl_demo_003', 'production', '1.9.1', 'c0ffee5', now() - interval '20 hours', now() - interval '20 hours' + interval '4 minutes', 'success', true),
  ('dpl_demo_004', 'staging',    '1.10.0-rc.1', 'd15ea5e', now() - interval '2 hours', now() - interval '2 hours' + interval '2 minutes', 'success', true);
UPDATE public.deployment_log SET rollback_target_id = (SELECT id FROM public.deployment_log WHERE deployment_id = 'dpl_demo_001')
 WHERE deployment_id = 'dpl_demo_002';

REFRESH MATERIALIZED VIEW public.mv_order_health;
