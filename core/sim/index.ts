/**
 * Event-camera simulator: articulated person + room → luminance frames → DVS events (ESIM/v2e-style), and a
 * DVS128-Gesture-like dataset generator. `EsimState` also converts any frame stream (e.g. a webcam) to events.
 */
export { EsimState, DEFAULT_ESIM, linLog, type EsimConfig } from './esim.ts';
export { sampleBody, newPose, armJoints, solveArm, reach, type BodyParams, type Pose } from './body.ts';
export { GESTURE_CLASSES, NUM_GESTURE_CLASSES, CLOCKWISE_ON_SCREEN, sampleGesture, type GestureInstance } from './gestures.ts';
export { Choreographer, planTrial, sampleIdle, restPose, type TrialPlan, type TrialSegment } from './trial.ts';
export { LIGHTING, LIGHTING_NAMES, isLightingName, sampleRoom, sampleLight, type LightingName, type LightParams, type RoomParams } from './scene.ts';
export { Renderer } from './render.ts';
export { planDataset, resolveOptions, TrialSimulator, SENSOR_WIDTH, SENSOR_HEIGHT, type SimDatasetOptions, type TrialSpec } from './dataset.ts';
export { generateDataset, writeTrial, SimulationCancelled, type TrialResult, type GenerateHooks } from './output.ts';
export { cameraFrameToLuma, type CameraFrameOptions } from './camera-frame.ts';
