export type ActionMetadata = Record<string, string | number | boolean>;

export interface UserActionsOptions {
  /** the attribute that names an element's action (default `data-action`); `data-action-<key>` attributes become its metadata */
  attribute?: string;
}
